// tessel::kv_store (include/tessel/kv_store.hpp): open, reads, the single-key writes and watch. Every write
// is a sharded_store::transact: read the key's entry under its shard's lock, decide, write, and publish the
// change to the watch hub before the lock is released (docs/kv.md §Writes).
#include "tessel/kv_store.hpp"

#include <array>
#include <utility>

#include "common/le_codec.hpp"
#include "common/wall_clock.hpp"
#include "kv/entry_codec.hpp"
#include "kv/kv_impl.hpp"
#include "kv/path_keys.hpp"
#include "kv/saved_history.hpp"

namespace tessel {

namespace {

/// The kv layer's own record in the store (format.md §KV entries): u32 format, u32 zero, u64 generation.
constexpr std::string_view kv_meta_key{"\xFF\xFFtessel/kv/meta", 16};
constexpr std::uint32_t kv_format_version = 1;

/// Counts this opening: reads the previous generation and stores the next (durable once make_impl has
/// flushed, whatever the store's durability). A read-only store commits nothing, so it keeps the
/// generation it finds.
result<std::uint64_t> next_generation(sharded_store& engine, bool read_only) noexcept {
  std::uint64_t previous = 0;
  result<void> parsed;
  engine.read(as_bytes(kv_meta_key), [&](const result<value_view>& v) {
    if (!v) {
      if (v.error().code() != errc::not_found) parsed = tl::unexpected(v.error());
      return;
    }
    if (v->size() != 16) {
      parsed = make_error(errc::corruption, "the kv meta record holds " + std::to_string(v->size()) + " bytes, not 16");
      return;
    }
    if (const auto format = load_le<std::uint32_t>(v->data()); format != kv_format_version) {
      parsed = make_error(errc::version_mismatch, "the kv layer of this store has format " + std::to_string(format) +
                                                      "; this build reads " + std::to_string(kv_format_version));
      return;
    }
    previous = load_le<std::uint64_t>(v->data() + 8);
  });
  if (!parsed) return tl::unexpected(std::move(parsed.error()));
  // No meta record: a new store, or one written through the byte API, whose values have no kv header and
  // would all read as corruption. Adopting it would also add the record, making the mistake permanent.
  if (previous == 0) {
    if (const std::size_t entries = engine.len(); entries != 0) {
      return make_error(errc::invalid_argument, "the store holds " + std::to_string(entries) +
                                                    " entries but no kv meta record: it was written through the "
                                                    "byte API, not as a kv store");
    }
  }
  if (read_only) return previous;
  const std::uint64_t generation = previous + 1;
  if (generation >= (std::uint64_t{1} << (64 - detail::generation_shift))) {
    return make_error(errc::not_supported, "the kv store has been opened 2^24 times; its seqs are used up");
  }
  std::array<std::byte, 16> record{};
  store_le<std::uint32_t>(record.data(), kv_format_version);
  store_le<std::uint64_t>(record.data() + 8, generation);
  if (auto ok = engine.put(as_bytes(kv_meta_key), record); !ok) return tl::unexpected(std::move(ok.error()));
  return generation;
}

/// One key set to `value` over `old` (missing when old.version is 0); fills the op, returns the header.
detail::entry_header plan_set(std::vector<write_op>& ops, std::string_view key, std::string_view value,
                              const detail::key_state& old) {
  const std::uint64_t now = unix_time_ns();
  const detail::entry_header h{old.version + 1, old.version == 0 ? now : old.created_at_ns, now};
  ops.resize(1);
  ops[0].erase = false;
  ops[0].key.assign(key);
  detail::encode_entry(ops[0].value, h, value);
  return h;
}

/// Publishes one change of a single-key write (inside transact's `applied`).
void publish_one(detail::watch_hub& hub, kv_event_type type, std::string_view key, std::uint64_t version,
                 std::string_view value) noexcept {
  (void)hub.publish(
      [&](std::vector<detail::change>& changes) {
        changes.push_back({type, key, version, value});
      },
      detail::pending_wakes());
}

}  // namespace

namespace detail {

result<key_state> read_state(const batch_reader& reader, std::string_view key) noexcept {
  auto v = reader.get(as_bytes(key));
  if (!v) {
    if (v.error().code() == errc::not_found) return key_state{};
    return tl::unexpected(std::move(v.error()));
  }
  auto h = decode_header(*v, key);
  if (!h) return tl::unexpected(std::move(h.error()));
  return key_state{h->version, h->created_at_ns};
}

}  // namespace detail

kv_store::kv_store(std::unique_ptr<detail::kv_impl> impl) noexcept : impl_(std::move(impl)) {}

kv_store::~kv_store() {
  if (impl_) (void)close();
}

namespace {

/// `durable`: opened from a directory, so the watch history lives on across a clean close.
result<std::unique_ptr<detail::kv_impl>> make_impl(std::unique_ptr<sharded_store> engine, const options& opts,
                                                   const shard_options& s, const kv_options& kv,
                                                   bool durable) noexcept {
  try {
    auto generation = next_generation(*engine, opts.read_only);
    if (!generation) return tl::unexpected(std::move(generation.error()));
    auto impl = std::make_unique<detail::kv_impl>();
    impl->engine = std::move(engine);
    impl->opts = kv;
    impl->mode = s.mode;
    impl->generation = *generation;
    impl->saves_history = durable && !opts.read_only;
    impl->hub = std::make_unique<detail::watch_hub>(*generation << detail::generation_shift, kv.history_commits,
                                                    kv.history_bytes);
    if (durable) {
      const std::uint64_t previous = opts.read_only ? *generation : *generation - 1;
      if (auto ok = detail::load_history(*impl->engine, *impl->hub, previous, opts.read_only); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      // The new generation and the taken history's erase are durable before the first commit, whatever
      // the store's durability: at durability none a crash could otherwise lose them while a checkpoint
      // kept this opening's commits, and the next opening would reuse these seqs and take back a history
      // that misses those commits.
      if (!opts.read_only) {
        if (auto ok = impl->engine->flush(); !ok) return tl::unexpected(std::move(ok.error()));
      }
    }
    impl->tasks = std::make_unique<detail::task_pool>(kv.async_threads);
    return impl;
  } catch (...) {
    return make_error(errc::no_memory, "opening a kv store");
  }
}

}  // namespace

result<std::unique_ptr<kv_store>> kv_store::open(const options& opts, const shard_options& shards,
                                                 const kv_options& kv) noexcept {
  auto engine = sharded_store::open(opts, shards);
  if (!engine) return tl::unexpected(std::move(engine.error()));
  auto impl = make_impl(std::move(*engine), opts, shards, kv, false);
  if (!impl) return tl::unexpected(std::move(impl.error()));
  return std::unique_ptr<kv_store>(new kv_store(std::move(*impl)));
}

result<std::unique_ptr<kv_store>> kv_store::open(const std::string& path, const options& opts,
                                                 const shard_options& shards, const kv_options& kv) noexcept {
  auto engine = sharded_store::open(path, opts, shards);
  if (!engine) return tl::unexpected(std::move(engine.error()));
  auto impl = make_impl(std::move(*engine), opts, shards, kv, true);
  if (!impl) return tl::unexpected(std::move(impl.error()));
  return std::unique_ptr<kv_store>(new kv_store(std::move(*impl)));
}

// ---- Reads ----

result<kv_entry> kv_store::get(std::string_view key, std::string& value) const noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  if (auto ok = detail::check_key(key, impl_->opts.keys); !ok) return tl::unexpected(std::move(ok.error()));
  // The seq: worker mode reads a published version without the shard's lock, so the seq is taken before
  // it (every commit up to it is in that version; a later one may be too, and would be seen twice by a
  // watch resumed from here, never missed). Inline mode reads under the lock: exact.
  kv_entry out;
  out.seq = impl_->hub->current_seq();
  result<void> status;
  impl_->engine->read(as_bytes(key), [&](const result<value_view>& v) {
    if (!v) {
      status = tl::unexpected(v.error());
      return;
    }
    auto h = detail::decode_header(*v, key);
    if (!h) {
      status = tl::unexpected(std::move(h.error()));
      return;
    }
    if (impl_->mode == shard_mode::inline_calls) out.seq = impl_->hub->current_seq();
    out.version = h->version;
    out.created_at_ns = h->created_at_ns;
    out.updated_at_ns = h->updated_at_ns;
    try {
      value.assign(detail::entry_value(*v));
    } catch (...) {
      status = make_error(errc::no_memory, "copying a value");
    }
  });
  if (!status) return tl::unexpected(std::move(status.error()));
  return out;
}

result<kv_entry> kv_store::get(std::string_view key) const noexcept {
  std::string value;
  auto e = get(key, value);
  if (e) e->value = std::move(value);
  return e;
}

result<std::uint64_t> kv_store::version(std::string_view key) const noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  if (auto ok = detail::check_key(key, impl_->opts.keys); !ok) return tl::unexpected(std::move(ok.error()));
  result<std::uint64_t> out = 0;
  impl_->engine->read(as_bytes(key), [&](const result<value_view>& v) {
    if (!v) {
      if (v.error().code() != errc::not_found) out = tl::unexpected(v.error());
      return;
    }
    auto h = detail::decode_header(*v, key);
    out = h ? result<std::uint64_t>(h->version) : tl::unexpected(std::move(h.error()));
  });
  return out;
}

result<bool> kv_store::exists(std::string_view key) const noexcept {
  auto v = version(key);
  if (!v) return tl::unexpected(std::move(v.error()));
  return *v != 0;
}

result<std::uint64_t> kv_store::scan(
    std::string_view prefix, const std::function<bool(std::string_view, const kv_entry&)>& visit) const noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  try {
    // The seq first: every commit up to it is in the cut taken next; one that lands between the two is in
    // the cut and after the seq, so a watch resumed from the seq shows it again -- never misses it.
    const std::uint64_t seq = impl_->hub->current_seq();
    // One cut of every shard: a transaction is in it whole or not at all.
    auto cut = impl_->engine->snapshot();
    if (!cut) return tl::unexpected(std::move(cut.error()));
    merged_cursor c = cut->new_cursor();
    c.seek_in_prefix(as_bytes(prefix));
    kv_entry e;
    for (; c.valid(); c.next()) {
      const std::string_view key = as_string_view(c.key());
      if (!key.starts_with(prefix)) break;
      if (detail::is_reserved_key(key)) continue;
      auto h = detail::decode_header(c.value(), key);
      if (!h) return tl::unexpected(std::move(h.error()));
      e.value.assign(detail::entry_value(c.value()));
      e.version = h->version;
      e.created_at_ns = h->created_at_ns;
      e.updated_at_ns = h->updated_at_ns;
      e.seq = seq;
      if (!visit(key, e)) break;
    }
    return seq;
  } catch (...) {
    return make_error(errc::no_memory, "scanning a kv store");
  }
}

result<std::vector<std::string>> kv_store::list(std::string_view prefix, std::size_t limit) const noexcept {
  try {
    std::vector<std::string> keys;
    auto ok = scan(prefix, [&](std::string_view key, const kv_entry&) {
      keys.emplace_back(key);
      return limit == 0 || keys.size() < limit;
    });
    if (!ok) return tl::unexpected(std::move(ok.error()));
    return keys;
  } catch (...) {
    return make_error(errc::no_memory, "listing a kv store");
  }
}

std::uint64_t kv_store::current_seq() const noexcept { return impl_->hub->current_seq(); }

// ---- Single-key writes ----

result<std::uint64_t> kv_store::set(std::string_view key, std::string_view value) noexcept {
  return compare_and_set(key, version_conflict::any_version, value);
}

result<std::uint64_t> kv_store::compare_and_set(std::string_view key, std::uint64_t expected,
                                                std::string_view value) noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  if (auto ok = detail::check_key(key, impl_->opts.keys); !ok) return tl::unexpected(std::move(ok.error()));
  if (auto ok = detail::check_value(value); !ok) return tl::unexpected(std::move(ok.error()));
  const key_view k = as_bytes(key);
  detail::entry_header written;
  auto ok = impl_->engine->transact(
      {&k, 1}, detail::scratch_writes(),
      [&](const batch_reader& r, std::vector<write_op>& ops) -> result<void> {
        auto old = detail::read_state(r, key);
        if (!old) return tl::unexpected(std::move(old.error()));
        if (expected != version_conflict::any_version && old->version != expected) {
          return tl::unexpected(error("compare_and_set of " + std::string(key) + ": expected version " +
                                          std::to_string(expected) + ", found " + std::to_string(old->version),
                                      version_conflict{std::string(key), expected, old->version, 0}));
        }
        written = plan_set(ops, key, value, *old);
        return {};
      },
      [&] {
        publish_one(*impl_->hub, written.version == 1 ? kv_event_type::created : kv_event_type::updated, key,
                    written.version, value);
      });
  detail::watch_hub::wake(detail::pending_wakes());
  if (!ok) return tl::unexpected(std::move(ok.error()));
  return written.version;
}

result<bool> kv_store::create_if_not_exists(std::string_view key, std::string_view value) noexcept {
  auto v = compare_and_set(key, 0, value);
  if (v) return true;
  if (v.error().code() == errc::conflict && v.error().conflict() != nullptr) return false;
  return tl::unexpected(std::move(v.error()));
}

result<std::uint64_t> kv_store::erase(std::string_view key) noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  if (auto ok = detail::check_key(key, impl_->opts.keys); !ok) return tl::unexpected(std::move(ok.error()));
  const key_view k = as_bytes(key);
  std::uint64_t removed = 0;
  auto ok = impl_->engine->transact(
      {&k, 1}, detail::scratch_writes(),
      [&](const batch_reader& r, std::vector<write_op>& ops) -> result<void> {
        auto old = detail::read_state(r, key);
        if (!old) return tl::unexpected(std::move(old.error()));
        removed = old->version;
        ops.resize(removed == 0 ? 0 : 1);
        if (removed != 0) {
          ops[0].erase = true;
          ops[0].key.assign(key);
          ops[0].value.clear();
        }
        return {};
      },
      [&] {
        if (removed != 0) publish_one(*impl_->hub, kv_event_type::deleted, key, removed, {});
      });
  detail::watch_hub::wake(detail::pending_wakes());
  if (!ok) return tl::unexpected(std::move(ok.error()));
  return removed;
}

// ---- Watch ----

result<std::unique_ptr<watch_stream>> kv_store::watch(std::string_view pattern, const watch_options& opts) noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return tl::unexpected(std::move(ok.error()));
  auto p = detail::parse_pattern(pattern, impl_->opts.keys);
  if (!p) return tl::unexpected(std::move(p.error()));
  auto w = impl_->hub->subscribe(std::move(*p), opts);
  if (!w) return tl::unexpected(std::move(w.error()));
  try {
    return std::unique_ptr<watch_stream>(new watch_stream(std::move(*w)));
  } catch (...) {
    return make_error(errc::no_memory, "opening a watch stream");
  }
}

// ---- The store underneath ----

sharded_store& kv_store::engine() noexcept { return *impl_->engine; }

result<void> kv_store::flush() noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return ok;
  return impl_->engine->flush();
}

result<void> kv_store::checkpoint() noexcept {
  if (auto ok = detail::check_open(*impl_); !ok) return ok;
  return impl_->engine->checkpoint();
}

result<void> kv_store::close() noexcept {
  if (impl_->closed.load(std::memory_order_acquire)) return {};
  // Runs the calls still queued, on the open store. The pool itself stays: a queued call's callback may
  // post another call, which then runs on its caller.
  impl_->tasks->stop();
  impl_->closed.store(true, std::memory_order_release);
  impl_->hub->close_all();
  // Best effort: without the record, a watch from this opening's seqs is compacted after the reopen --
  // clear, and never a gap -- while the data itself is whole either way.
  // A transaction that failed past its commit point has no seq and no events, yet the reopen finishes it:
  // a history saved now would hide its changes from a watch resumed across them.
  if (impl_->saves_history && !impl_->engine->batch_failed()) {
    (void)detail::save_history(*impl_->engine, *impl_->hub, impl_->generation);
  }
  return impl_->engine->close();
}

}  // namespace tessel
