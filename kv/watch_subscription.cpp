// tessel::watch_subscription: a watch stream drained by a thread of its own into a callback.
#include <utility>

#include "tessel/kv_store.hpp"

namespace tessel {

watch_subscription::watch_subscription(std::unique_ptr<watch_stream> stream,
                                       std::function<void(const kv_event&)> on_event)
    : stream_(std::move(stream)) {
  thread_ = std::thread([s = stream_.get(), f = std::move(on_event)] {
    // Ends when the stream does: closed, its store closed, or after the lagged event.
    for (auto e = s->next(); e; e = s->next()) f(*e);
  });
}

watch_subscription::~watch_subscription() { close(); }

void watch_subscription::close() noexcept {
  stream_->close();
  if (thread_.joinable()) thread_.join();
}

result<std::unique_ptr<watch_subscription>> kv_store::watch(std::string_view pattern, const watch_options& opts,
                                                            std::function<void(const kv_event&)> on_event) noexcept {
  auto stream = watch(pattern, opts);
  if (!stream) return tl::unexpected(std::move(stream.error()));
  try {
    return std::unique_ptr<watch_subscription>(new watch_subscription(std::move(*stream), std::move(on_event)));
  } catch (...) {
    return make_error(errc::no_memory, "starting a watch subscription");
  }
}

}  // namespace tessel
