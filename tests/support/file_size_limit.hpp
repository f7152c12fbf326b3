// The disk-full tests' harness: run a fill in a forked child under RLIMIT_FSIZE, so the files it grows
// hit a limit the way a full disk stops them, and get its report back through a pipe.
//
// Thread safety: test code, one thread (fork from a single-threaded test).
#pragma once

#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <type_traits>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tessel::test {

/// Runs `fill` in a child whose files may grow to `limit_bytes` each. SIGXFSZ is ignored there, so the call
/// that would pass the limit fails with EFBIG instead of killing the child. `Report` is a trivially
/// copyable struct with a `char message[N]`, where a failed setrlimit is described. Returns the child's
/// report (message NUL-terminated), or nullopt after a test failure naming what went wrong.
template <class Report>
std::optional<Report> run_under_file_size_limit(rlim_t limit_bytes, const std::function<Report()>& fill) {
  static_assert(std::is_trivially_copyable_v<Report>, "the report crosses a pipe as bytes");
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return std::nullopt;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return std::nullopt;
  }
  if (child == 0) {
    ::close(fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{limit_bytes, limit_bytes};
    Report r{};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
      std::snprintf(r.message, sizeof r.message, "setrlimit: %s", std::strerror(errno));
    } else {
      r = fill();
    }
    const bool sent = ::write(fds[1], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
    ::_exit(sent ? 0 : 1);  // no atexit handlers, no gtest teardown in the child
  }
  ::close(fds[1]);
  Report r{};
  const ssize_t got = ::read(fds[0], &r, sizeof r);
  ::close(fds[0]);
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "the child ended with status " << status;
    return std::nullopt;
  }
  if (got != static_cast<ssize_t>(sizeof r)) {
    ADD_FAILURE() << "the child's report is " << got << " bytes, not " << sizeof r;
    return std::nullopt;
  }
  r.message[sizeof r.message - 1] = '\0';
  return r;
}

}  // namespace tessel::test
