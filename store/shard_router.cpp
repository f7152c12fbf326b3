#include "store/shard_router.hpp"

#include <algorithm>

#include "common/checksum.hpp"

namespace tessel::detail {

result<shard_router> shard_router::make(std::uint32_t shards, routing_rule rule) noexcept {
  if (shards == 0 || shards > max_shards) {
    return make_error(errc::invalid_argument,
                      "a store has 1 to " + std::to_string(max_shards) + " shards, not " + std::to_string(shards));
  }
  if (rule.kind == routing_kind::path_components && rule.components == 0) {
    return make_error(errc::invalid_argument, "routing by path components needs at least one component");
  }
  if (rule.kind != routing_kind::whole_key && rule.kind != routing_kind::hash_tag &&
      rule.kind != routing_kind::path_components) {
    return make_error(errc::invalid_argument, "unknown routing rule " + std::to_string(static_cast<int>(rule.kind)));
  }
  if (rule.kind != routing_kind::path_components) rule.components = 0;
  return shard_router(shards, rule);
}

key_view shard_router::routing_part(key_view key) const noexcept {
  switch (rule_.kind) {
    case routing_kind::whole_key: return key;
    case routing_kind::hash_tag: {
      const auto open = std::find(key.begin(), key.end(), std::byte{'{'});
      if (open == key.end()) return key;
      const auto close = std::find(open + 1, key.end(), std::byte{'}'});
      if (close == key.end() || close == open + 1) return key;  // no tag, or an empty one
      return key.subspan(static_cast<std::size_t>(open + 1 - key.begin()), static_cast<std::size_t>(close - open - 1));
    }
    case routing_kind::path_components: {
      // Component n ends where the separator that starts component n + 1 is; a leading '/' starts the first.
      std::size_t at = !key.empty() && key[0] == std::byte{'/'} ? 1 : 0;
      for (std::uint32_t seen = 0; at <= key.size(); ++at) {
        if (at == key.size() || key[at] == std::byte{'/'}) {
          if (++seen == rule_.components) return key.first(at);
          if (at == key.size()) break;
        }
      }
      return key;
    }
  }
  return key;
}

std::uint32_t shard_router::shard_of(key_view key) const noexcept {
  // One shard: no hash. Besides its own cost, the hash's dependent arithmetic fills the reorder window that
  // would otherwise overlap one lookup's cache misses with the next's.
  if (shards_ == 1) return 0;
  __extension__ using u128 = unsigned __int128;
  const std::uint64_t h = checksum64(routing_part(key));
  return static_cast<std::uint32_t>((static_cast<u128>(h) * shards_) >> 64);
}

std::string to_string(const routing_rule& rule) {
  switch (rule.kind) {
    case routing_kind::whole_key: return "whole_key";
    case routing_kind::hash_tag: return "hash_tag";
    case routing_kind::path_components: return "path_components:" + std::to_string(rule.components);
  }
  return "unknown";
}

}  // namespace tessel::detail
