// tessel::watch_stream: the consumer's handle on a watcher (kv/watch_hub.hpp).
#include "tessel/kv_store.hpp"

#include "kv/watch_hub.hpp"

namespace tessel {

watch_stream::~watch_stream() { close(); }

result<kv_event> watch_stream::next() noexcept {
  auto e = watcher_->next(std::nullopt);
  if (!e) return tl::unexpected(std::move(e.error()));
  return std::move(**e);  // without a timeout, next() returns an event or an error
}

result<std::optional<kv_event>> watch_stream::next_for(std::chrono::nanoseconds timeout) noexcept {
  return watcher_->next(timeout);
}

void watch_stream::close() noexcept { watcher_->close(/*drain=*/false); }

}  // namespace tessel
