// tessel::state_graph: a content-addressed graph of states, kept inside a store (splendor's state store
// semantics, ../shared/seeds/000): state bytes are put once and named by their hash; a node commits a state
// with its parents and metadata and is named by the SHA-256 of a documented canonical encoding
// (docs/format.md §State graph); a snapshot names a node's materialised state. Everything lives under the
// store's reserved key prefix "\xFF\xFFtessel/graph/", so it is exactly as durable and crash-safe as the
// store's other writes (each operation is one put), and ids are the same on every machine.
//
// Thread safety: as the store it uses -- reads need no writer at work on a dram store; a durable store's
// writes may come from any thread.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"
#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

namespace tessel {

/// A SHA-256 digest: the id of a state, a node or a snapshot.
struct digest {
  std::array<std::uint8_t, 32> bytes{};

  /// 64 lower-case hex digits.
  [[nodiscard]] std::string hex() const;
  /// Errors: invalid_argument (not 64 hex digits).
  [[nodiscard]] static result<digest> from_hex(std::string_view hex) noexcept;
  friend auto operator<=>(const digest&, const digest&) = default;
};

/// Strong names for the three kinds of id, so one cannot be passed for another.
struct state_ref {
  digest id;
  friend auto operator<=>(const state_ref&, const state_ref&) = default;
};
struct node_id {
  digest id;
  friend auto operator<=>(const node_id&, const node_id&) = default;
};
struct snapshot_id {
  digest id;
  friend auto operator<=>(const snapshot_id&, const snapshot_id&) = default;
};

struct state_data {
  std::string bytes;
  std::optional<std::string> content_type;
  friend bool operator==(const state_data&, const state_data&) = default;
};

struct state_metadata {
  std::uint64_t created_unix_ns = 0;
  std::optional<std::string> label;
  friend bool operator==(const state_metadata&, const state_metadata&) = default;
};

/// The data of a node that commits a whole version of the graph's store: one of its named snapshots
/// (store::create_named_snapshot), identified by its name and the epoch it was committed in -- a name
/// dropped and made again is another version.
struct store_version {
  std::string snapshot_name;
  std::uint64_t epoch = 0;
  std::uint64_t at_seq = 0;
  std::uint64_t keys = 0;
  friend bool operator==(const store_version&, const store_version&) = default;
};

struct state_node {
  node_id id;
  std::vector<node_id> parents;  ///< in the order committed; the first is the main line
  state_ref data;                ///< all zero for a node over a store version
  state_metadata metadata;
  std::optional<store_version> version;  ///< set for a node over a store version (commit_version_node)
};

struct state_snapshot {
  snapshot_id id;
  node_id node;
  state_data data;           ///< empty for a node over a store version
  tessel::snapshot version;  ///< for a node over a store version, that version (else an empty handle)
};

class state_graph {
 public:
  /// The graph kept in `s`; `s` must outlive it.
  explicit state_graph(store& s) noexcept : store_(&s) {}

  /// Stores `data` (once: the same bytes and content type give the same ref). Errors: invalid_argument
  /// (larger than a value may be), the store's put errors.
  [[nodiscard]] result<state_ref> put_state(const state_data& data) noexcept;
  /// Errors: not_found, corruption (the stored bytes no longer hash to the ref).
  [[nodiscard]] result<state_data> get_state(const state_ref& ref) const noexcept;

  /// Commits a node over `data` with `parents` (each already committed, none twice). The id is the hash of
  /// the node's canonical encoding, so committing the same node again returns the same id and writes
  /// nothing. Errors: not_found (a parent or the data ref), invalid_argument (a parent twice, a label
  /// over 64 KiB), the store's put errors.
  [[nodiscard]] result<node_id> commit_node(std::span<const node_id> parents, const state_ref& data,
                                            const state_metadata& metadata) noexcept;
  /// Commits a node whose data is the store's named snapshot `snapshot_name` as it is now (its name and
  /// epoch go into the node, so the id names that version). Errors: not_found (a parent, or no such named
  /// snapshot), invalid_argument and put errors as commit_node.
  [[nodiscard]] result<node_id> commit_version_node(std::span<const node_id> parents, std::string_view snapshot_name,
                                                    const state_metadata& metadata) noexcept;
  /// Errors: not_found, corruption (the stored node does not hash to its id).
  [[nodiscard]] result<state_node> get_node(const node_id& id) const noexcept;

  /// Records that `node`'s state is a snapshot and returns its id (the same for the same node). Errors:
  /// not_found (no such node), the store's put errors.
  [[nodiscard]] result<snapshot_id> snapshot(const node_id& node) noexcept;
  /// The node and its state -- for a node over a store version, a handle on that version. Errors:
  /// not_found (also when the named snapshot was dropped or made again since), corruption.
  [[nodiscard]] result<state_snapshot> load_snapshot(const snapshot_id& id) const noexcept;

  /// Visits `start` and every ancestor once, breadth first (nearer generations first; a node reached by two
  /// paths is visited once); stops early when `visit` returns false. Errors: those of get_node.
  [[nodiscard]] result<void> walk_ancestors(const node_id& start,
                                            const std::function<bool(const state_node&)>& visit) const noexcept;

 private:
  store* store_;
};

}  // namespace tessel
