// Run snapshots (include/tessel/run_snapshots.hpp). A record's value: "tessel/run/1\0", u64 at_seq, u64
// state length, the state, u64 checksum64 of everything before it (docs/format.md §Run snapshots).
#include "tessel/run_snapshots.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "tessel/limits.hpp"

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel {

namespace {

constexpr std::string_view run_key_prefix{"\xFF\xFFtessel/runs/", 14};
constexpr std::string_view run_tag{"tessel/run/1\0", 13};
constexpr std::size_t max_run_id = 1024;
constexpr std::size_t fixed_bytes = run_tag.size() + 8 + 8 + 8;

result<std::string> run_key(std::string_view run_id) {
  if (run_id.empty()) return make_error(errc::invalid_argument, "an empty run id");
  if (run_id.size() > max_run_id) {
    return make_error(errc::invalid_argument, "a run id of " + std::to_string(run_id.size()) +
                                                  " bytes exceeds the limit of " + std::to_string(max_run_id));
  }
  return std::string(run_key_prefix) + std::string(run_id);
}

std::uint64_t sum_of(std::string_view bytes) {
  return checksum64(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

std::string encode(std::uint64_t at_seq, std::string_view state) {
  std::string out(run_tag);
  char word[8];
  store_le<std::uint64_t>(reinterpret_cast<std::byte*>(word), at_seq);
  out.append(word, 8);
  store_le<std::uint64_t>(reinterpret_cast<std::byte*>(word), state.size());
  out.append(word, 8);
  out.append(state);
  store_le<std::uint64_t>(reinterpret_cast<std::byte*>(word), sum_of(out));
  out.append(word, 8);
  return out;
}

result<run_snapshot> decode(std::string_view run_id, std::string_view v) {
  auto damaged = [&] {
    return make_error(errc::corruption, "the snapshot record of run " + std::string(run_id) + " is damaged");
  };
  if (v.size() < fixed_bytes || v.substr(0, run_tag.size()) != run_tag) return damaged();
  auto word = [&](std::size_t at) { return load_le<std::uint64_t>(reinterpret_cast<const std::byte*>(v.data() + at)); };
  const std::uint64_t length = word(run_tag.size() + 8);
  if (length != v.size() - fixed_bytes || word(v.size() - 8) != sum_of(v.substr(0, v.size() - 8))) return damaged();
  return run_snapshot{std::string(run_id), word(run_tag.size()), std::string(v.substr(run_tag.size() + 16, length))};
}

}  // namespace

result<void> run_snapshots::save(std::string_view run_id, std::uint64_t at_seq, std::string_view state) noexcept {
  try {
    auto key = run_key(run_id);
    if (!key) return tl::unexpected(std::move(key.error()));
    if (state.size() + fixed_bytes > max_value_size) {
      return make_error(errc::invalid_argument,
                        "a state of " + std::to_string(state.size()) + " bytes exceeds what a value may hold");
    }
    auto latest = load_latest(run_id);
    if (!latest) return tl::unexpected(std::move(latest.error()));
    if (*latest && (*latest)->at_seq > at_seq) {
      return make_error(errc::conflict, "run " + std::string(run_id) + " has a snapshot at seq " +
                                            std::to_string((*latest)->at_seq) + ", later than " +
                                            std::to_string(at_seq));
    }
    return store_->put_string(*key, encode(at_seq, state));
  } catch (...) {
    return make_error(errc::no_memory, "saving a run snapshot");
  }
}

result<std::optional<run_snapshot>> run_snapshots::load_latest(std::string_view run_id) const noexcept {
  try {
    auto key = run_key(run_id);
    if (!key) return tl::unexpected(std::move(key.error()));
    auto value = store_->get_string(*key);
    if (!value) {
      if (value.error().code() == errc::not_found) return std::optional<run_snapshot>();
      return tl::unexpected(std::move(value.error()));
    }
    auto snap = decode(run_id, *value);
    if (!snap) return tl::unexpected(std::move(snap.error()));
    return std::optional<run_snapshot>(std::move(*snap));
  } catch (...) {
    return make_error(errc::no_memory, "loading a run snapshot");
  }
}

result<bool> run_snapshots::drop(std::string_view run_id) noexcept {
  try {
    auto key = run_key(run_id);
    if (!key) return tl::unexpected(std::move(key.error()));
    return store_->erase(as_bytes(*key));
  } catch (...) {
    return make_error(errc::no_memory, "dropping a run snapshot");
  }
}

result<run_snapshot> run_snapshots::recover(std::string_view run_id, const replay_function& replay) const noexcept {
  try {
    auto latest = load_latest(run_id);
    if (!latest) return tl::unexpected(std::move(latest.error()));
    run_snapshot state = *latest ? std::move(**latest) : run_snapshot{std::string(run_id), 0, {}};
    auto last = replay(state.at_seq, state.state);
    if (!last) return tl::unexpected(std::move(last.error()));
    if (*last < state.at_seq) {
      return make_error(errc::invalid_argument, "replay reported seq " + std::to_string(*last) +
                                                    ", before the snapshot's " + std::to_string(state.at_seq));
    }
    state.at_seq = *last;
    return state;
  } catch (...) {
    return make_error(errc::no_memory, "recovering a run");
  }
}

}  // namespace tessel
