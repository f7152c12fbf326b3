// kv_store::transaction: checks and writes over several keys, all or nothing (docs/kv.md §Transactions).
// The keys' shards are held for the whole decision (sharded_store::transact), so no other writer changes
// a checked key between the check and the commit -- no lost update -- and the writes are one cross-shard
// batch: atomic and durable across shards.
#include <utility>

#include "tessel/kv_store.hpp"

#include "common/wall_clock.hpp"
#include "kv/entry_codec.hpp"
#include "kv/kv_impl.hpp"
#include "kv/path_keys.hpp"

namespace tessel {

namespace {

std::string_view op_name(kv_op::kind k) noexcept {
  switch (k) {
    case kv_op::kind::check_version: return "check_version";
    case kv_op::kind::check_exists: return "check_exists";
    case kv_op::kind::check_missing: return "check_missing";
    case kv_op::kind::set: return "set";
    case kv_op::kind::erase: return "erase";
  }
  return "?";
}

bool is_check(kv_op::kind k) noexcept {
  return k == kv_op::kind::check_version || k == kv_op::kind::check_exists || k == kv_op::kind::check_missing;
}

/// The keys' states as the transaction goes: the state before it, then after each of its writes. One
/// buffer per thread, reused: a transaction names a handful of keys, found by a linear search.
class key_states {
 public:
  key_states() noexcept : entries_(buffer()) { entries_.clear(); }
  /// The index of `key`'s state, read from `r` the first time.
  result<std::size_t> find(const batch_reader& r, std::string_view key) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first == key) return i;
    }
    auto s = detail::read_state(r, key);
    if (!s) return tl::unexpected(std::move(s.error()));
    entries_.emplace_back(key, *s);
    return entries_.size() - 1;
  }
  detail::key_state& operator[](std::size_t i) noexcept { return entries_[i].second; }

 private:
  static std::vector<std::pair<std::string_view, detail::key_state>>& buffer() noexcept {
    thread_local std::vector<std::pair<std::string_view, detail::key_state>> entries;
    return entries;
  }
  std::vector<std::pair<std::string_view, detail::key_state>>& entries_;
};

/// The failed check's error, or success.
result<void> check(const kv_op& op, std::size_t index, std::uint64_t found) {
  std::uint64_t expected = 0;
  bool holds = true;
  switch (op.what) {
    case kv_op::kind::check_version:
      expected = op.version;
      holds = found == op.version;
      break;
    case kv_op::kind::check_exists:
      expected = version_conflict::any_version;
      holds = found != 0;
      break;
    case kv_op::kind::check_missing: holds = found == 0; break;
    default: return {};
  }
  if (holds) return {};
  const std::string wanted =
      op.what == kv_op::kind::check_exists ? std::string("the key present") : "version " + std::to_string(expected);
  return tl::unexpected(error("transaction op " + std::to_string(index) + " (" + std::string(op_name(op.what)) + " " +
                                  op.key + "): expected " + wanted + ", found version " + std::to_string(found),
                              version_conflict{op.key, expected, found, index}));
}

}  // namespace

result<kv_txn_result> kv_store::transaction(const std::vector<kv_op>& ops) noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  if (ops.empty()) return make_error(errc::invalid_argument, "a transaction of no op");
  try {
    thread_local std::vector<key_view> keys;  // reused: a transaction allocates as little as it can
    keys.clear();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const kv_op& op = ops[i];
      if (auto ok = detail::check_key(op.key, impl_->opts.keys); !ok) {
        return make_error(errc::invalid_argument,
                          "transaction op " + std::to_string(i) + ": " + std::string(ok.error().message()));
      }
      if (op.what == kv_op::kind::set) {
        if (auto ok = detail::check_value(op.value); !ok) {
          return make_error(errc::invalid_argument,
                            "transaction op " + std::to_string(i) + ": " + std::string(ok.error().message()));
        }
      }
      keys.push_back(as_bytes(op.key));
    }
    kv_txn_result out;
    out.versions.assign(ops.size(), 0);
    std::vector<write_op>& writes = detail::scratch_writes();
    auto ok = impl_->engine->transact(
        keys, writes,
        [&](const batch_reader& r, std::vector<write_op>& batch) -> result<void> {
          key_states states;
          // Every check against the state before the transaction, in order: the first failure names itself.
          for (std::size_t i = 0; i < ops.size(); ++i) {
            auto at = states.find(r, ops[i].key);
            if (!at) return tl::unexpected(std::move(at.error()));
            if (!is_check(ops[i].what)) continue;
            if (auto held = check(ops[i], i, states[*at].version); !held) return held;
          }
          const std::uint64_t now = unix_time_ns();
          std::size_t used = 0;  // the batch's ops are reused from the last transaction of this thread
          const auto next_write = [&]() -> write_op& {
            if (used == batch.size()) batch.emplace_back();
            return batch[used++];
          };
          for (std::size_t i = 0; i < ops.size(); ++i) {
            const kv_op& op = ops[i];
            if (is_check(op.what)) continue;
            detail::key_state& s = states[*states.find(r, op.key)];
            if (op.what == kv_op::kind::erase) {
              out.versions[i] = s.version;
              if (s.version == 0) continue;  // deleting a missing key writes nothing
              write_op& w = next_write();
              w.erase = true;
              w.key.assign(op.key);
              w.value.clear();
              s = {};
              continue;
            }
            const detail::entry_header h{s.version + 1, s.version == 0 ? now : s.created_at_ns, now};
            write_op& w = next_write();
            w.erase = false;
            w.key.assign(op.key);
            detail::encode_entry(w.value, h, op.value);
            out.versions[i] = h.version;
            s = {h.version, h.created_at_ns};
          }
          batch.resize(used);
          return {};
        },
        [&] {
          if (writes.empty()) return;
          // The events, from the ops and the versions the decision gave them (an erase of a missing key
          // wrote nothing and has none).
          const auto events = [&](std::vector<detail::change>& changes) {
            changes.reserve(ops.size());
            for (std::size_t i = 0; i < ops.size(); ++i) {
              const kv_op& op = ops[i];
              const std::uint64_t v = out.versions[i];
              if (op.what == kv_op::kind::erase && v != 0) changes.push_back({kv_event_type::deleted, op.key, v, {}});
              if (op.what == kv_op::kind::set) {
                changes.push_back({v == 1 ? kv_event_type::created : kv_event_type::updated, op.key, v, op.value});
              }
            }
          };
          out.seq = impl_->hub->publish(events, detail::pending_wakes());
        });
    detail::watch_hub::wake(detail::pending_wakes());
    if (!ok) return tl::unexpected(std::move(ok.error()));
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "a transaction");
  }
}

}  // namespace tessel
