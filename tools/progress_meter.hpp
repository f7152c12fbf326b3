// A one-line progress display on stderr for long commands (load, dump, check): redrawn at most five times a
// second, and silent unless stderr is a terminal and the command prints no JSON -- piped output stays clean.
//
// Thread safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tessel::tools {

class progress_meter {
 public:
  /// `label` names the work ("loading"); `quiet` forces silence (--json).
  progress_meter(std::string label, bool quiet);
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;
  ~progress_meter();

  /// `items` done so far, `bytes` read or written so far.
  void update(std::uint64_t items, std::uint64_t bytes);
  /// Clears the line.
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace tessel::tools
