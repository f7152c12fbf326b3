#include "tools/progress_meter.hpp"

#include <cstdio>
#include <utility>

#include <unistd.h>

namespace tessel::tools {

namespace {
constexpr std::chrono::milliseconds redraw_every{200};
}  // namespace

progress_meter::progress_meter(std::string label, bool quiet)
    : label_(std::move(label)), enabled_(!quiet && ::isatty(STDERR_FILENO) == 1) {}

progress_meter::~progress_meter() { finish(); }

void progress_meter::update(std::uint64_t items, std::uint64_t bytes) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < redraw_every) return;
  last_ = now;
  std::fprintf(stderr, "\r%s: %llu entries, %.1f MiB\033[K", label_.c_str(), static_cast<unsigned long long>(items),
               static_cast<double>(bytes) / (1024.0 * 1024.0));
  drawn_ = true;
}

void progress_meter::finish() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace tessel::tools
