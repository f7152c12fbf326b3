// The canonical encodings of the state graph's records (docs/format.md §State graph) and their SHA-256
// ids. A record's stored value is its encoding, so every read can check that the bytes still hash to the
// id they are stored under.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "tessel/error.hpp"
#include "tessel/state_graph.hpp"

namespace tessel::detail {

/// The prefix every key of the graph starts with; the store reserves keys starting with "\xFF\xFFtessel/".
inline constexpr std::string_view graph_key_prefix{"\xFF\xFFtessel/graph/", 15};

enum class graph_record : char { state = 's', node = 'n', snapshot = 'p' };

/// The store key of a record: prefix, kind, '/', the 32 id bytes.
[[nodiscard]] std::string graph_key(graph_record kind, const digest& id);

[[nodiscard]] digest sha256(std::span<const std::byte> bytes) noexcept;

[[nodiscard]] std::string encode_state(const state_data& data);
[[nodiscard]] std::string encode_node(std::span<const node_id> parents, const state_ref& data,
                                      const state_metadata& metadata);
/// A node whose data is a store version (a different tag: no node over a state can read as one).
[[nodiscard]] std::string encode_node(std::span<const node_id> parents, const store_version& version,
                                      const state_metadata& metadata);
[[nodiscard]] std::string encode_snapshot(const node_id& node);

/// Errors: corruption naming what does not parse.
[[nodiscard]] result<state_data> decode_state(std::string_view encoded) noexcept;
/// Either kind of node; the id is left empty.
[[nodiscard]] result<state_node> decode_node(std::string_view encoded) noexcept;
[[nodiscard]] result<node_id> decode_snapshot(std::string_view encoded) noexcept;

}  // namespace tessel::detail
