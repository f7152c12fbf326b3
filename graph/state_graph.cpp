// The state graph over a store (include/tessel/state_graph.hpp). Every operation is at most one put, so
// each is atomic and as durable as the store's writes; every read checks that the stored encoding still
// hashes to its id.
#include "tessel/state_graph.hpp"

#include <deque>
#include <set>
#include <string>
#include <utility>

#include "tessel/limits.hpp"

#include "graph/graph_encoding.hpp"

namespace tessel {

namespace {

using detail::graph_key;
using detail::graph_record;

constexpr std::size_t max_label_bytes = 64 * 1024;

digest hash_of(std::string_view encoded) noexcept {
  return detail::sha256(std::as_bytes(std::span<const char>(encoded.data(), encoded.size())));
}

/// The record `kind` with `id`, checked against its id. Errors: not_found (naming `what`), corruption.
result<std::string> read_record(const store& s, graph_record kind, const digest& id, const char* what) {
  auto value = s.get_string(graph_key(kind, id));
  if (!value) {
    if (value.error().code() == errc::not_found) {
      return make_error(errc::not_found, std::string("no ") + what + " " + id.hex());
    }
    return value;
  }
  if (hash_of(*value) != id) {
    return make_error(errc::corruption,
                      std::string("the stored ") + what + " " + id.hex() + " no longer hashes to its id");
  }
  return value;
}

/// Stores `encoded` under its hash unless it is there already (content addressing: same bytes, same id).
result<digest> write_record(store& s, graph_record kind, const std::string& encoded) {
  const digest id = hash_of(encoded);
  const std::string key = graph_key(kind, id);
  if (!s.contains(as_bytes(key))) {
    if (auto ok = s.put_string(key, encoded); !ok) return tl::unexpected(std::move(ok.error()));
  }
  return id;
}

}  // namespace

std::string digest::hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < 32; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

result<digest> digest::from_hex(std::string_view hex) noexcept {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 64)
    return make_error(errc::invalid_argument, "an id is 64 hex digits, not " + std::to_string(hex.size()));
  digest d;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(errc::invalid_argument, "an id holds a character that is not a hex digit");
    d.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return d;
}

result<state_ref> state_graph::put_state(const state_data& data) noexcept {
  try {
    const std::string encoded = detail::encode_state(data);
    if (encoded.size() > max_value_size) {
      return make_error(errc::invalid_argument, "state of " + std::to_string(data.bytes.size()) +
                                                    " bytes exceeds what a value may hold (" +
                                                    std::to_string(max_value_size) + " bytes with its header)");
    }
    auto id = write_record(*store_, graph_record::state, encoded);
    if (!id) return tl::unexpected(std::move(id.error()));
    return state_ref{*id};
  } catch (...) {
    return make_error(errc::no_memory, "putting a state");
  }
}

result<state_data> state_graph::get_state(const state_ref& ref) const noexcept {
  try {
    auto encoded = read_record(*store_, graph_record::state, ref.id, "state");
    if (!encoded) return tl::unexpected(std::move(encoded.error()));
    return detail::decode_state(*encoded);
  } catch (...) {
    return make_error(errc::no_memory, "reading a state");
  }
}

namespace {

/// What every node needs: a label within its limit, parents committed and none twice. Throws bad_alloc.
result<void> check_node(const store& s, std::span<const node_id> parents, const state_metadata& metadata) {
  if (metadata.label && metadata.label->size() > max_label_bytes) {
    return make_error(errc::invalid_argument, "a label of " + std::to_string(metadata.label->size()) +
                                                  " bytes exceeds the limit of " + std::to_string(max_label_bytes));
  }
  std::set<node_id> seen;
  for (const node_id& p : parents) {
    if (!seen.insert(p).second) return make_error(errc::invalid_argument, "parent " + p.id.hex() + " is named twice");
    if (!s.contains(as_bytes(graph_key(graph_record::node, p.id)))) {
      return make_error(errc::not_found, "no parent node " + p.id.hex());
    }
  }
  return {};
}

}  // namespace

result<node_id> state_graph::commit_version_node(std::span<const node_id> parents, std::string_view snapshot_name,
                                                 const state_metadata& metadata) noexcept {
  try {
    if (auto ok = check_node(*store_, parents, metadata); !ok) return tl::unexpected(std::move(ok.error()));
    auto named = store_->named_snapshots();
    if (!named) return tl::unexpected(std::move(named.error()));
    for (const named_snapshot_info& n : *named) {
      if (n.name != snapshot_name) continue;
      const store_version version{n.name, n.epoch, n.at_seq, n.len};
      auto id = write_record(*store_, graph_record::node, detail::encode_node(parents, version, metadata));
      if (!id) return tl::unexpected(std::move(id.error()));
      return node_id{*id};
    }
    return make_error(errc::not_found, "the store has no snapshot named '" + std::string(snapshot_name) + "'");
  } catch (...) {
    return make_error(errc::no_memory, "committing a node");
  }
}

result<node_id> state_graph::commit_node(std::span<const node_id> parents, const state_ref& data,
                                         const state_metadata& metadata) noexcept {
  try {
    if (auto ok = check_node(*store_, parents, metadata); !ok) return tl::unexpected(std::move(ok.error()));
    if (!store_->contains(as_bytes(graph_key(graph_record::state, data.id)))) {
      return make_error(errc::not_found, "no state " + data.id.hex());
    }
    auto id = write_record(*store_, graph_record::node, detail::encode_node(parents, data, metadata));
    if (!id) return tl::unexpected(std::move(id.error()));
    return node_id{*id};
  } catch (...) {
    return make_error(errc::no_memory, "committing a node");
  }
}

result<state_node> state_graph::get_node(const node_id& id) const noexcept {
  try {
    auto encoded = read_record(*store_, graph_record::node, id.id, "node");
    if (!encoded) return tl::unexpected(std::move(encoded.error()));
    auto node = detail::decode_node(*encoded);
    if (!node) return node;
    node->id = id;
    return node;
  } catch (...) {
    return make_error(errc::no_memory, "reading a node");
  }
}

result<snapshot_id> state_graph::snapshot(const node_id& node) noexcept {
  try {
    if (!store_->contains(as_bytes(graph_key(graph_record::node, node.id)))) {
      return make_error(errc::not_found, "no node " + node.id.hex());
    }
    auto id = write_record(*store_, graph_record::snapshot, detail::encode_snapshot(node));
    if (!id) return tl::unexpected(std::move(id.error()));
    return snapshot_id{*id};
  } catch (...) {
    return make_error(errc::no_memory, "recording a snapshot");
  }
}

result<state_snapshot> state_graph::load_snapshot(const snapshot_id& id) const noexcept {
  try {
    auto encoded = read_record(*store_, graph_record::snapshot, id.id, "snapshot");
    if (!encoded) return tl::unexpected(std::move(encoded.error()));
    auto node_ref = detail::decode_snapshot(*encoded);
    if (!node_ref) return tl::unexpected(std::move(node_ref.error()));
    auto node = get_node(*node_ref);
    if (!node) return tl::unexpected(std::move(node.error()));
    if (node->version) {
      const store_version& v = *node->version;
      auto version = store_->open_named_snapshot(v.snapshot_name);
      if (!version || version->epoch() != v.epoch) {
        return make_error(errc::not_found, "the store version of snapshot " + id.id.hex() + " (named snapshot '" +
                                               v.snapshot_name + "', epoch " + std::to_string(v.epoch) +
                                               ") was dropped");
      }
      return state_snapshot{id, *node_ref, {}, std::move(*version)};
    }
    auto data = get_state(node->data);
    if (!data) return tl::unexpected(std::move(data.error()));
    return state_snapshot{id, *node_ref, std::move(*data), {}};
  } catch (...) {
    return make_error(errc::no_memory, "loading a snapshot");
  }
}

result<void> state_graph::walk_ancestors(const node_id& start,
                                         const std::function<bool(const state_node&)>& visit) const noexcept {
  try {
    std::deque<node_id> pending{start};
    std::set<node_id> queued{start};
    while (!pending.empty()) {
      auto node = get_node(pending.front());
      pending.pop_front();
      if (!node) return tl::unexpected(std::move(node.error()));
      if (!visit(*node)) return {};
      for (const node_id& p : node->parents) {
        if (queued.insert(p).second) pending.push_back(p);
      }
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "walking ancestors");
  }
}

}  // namespace tessel
