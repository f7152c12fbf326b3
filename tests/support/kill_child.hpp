// The kill -9 rounds of the crash tests: fork a child that writes and acknowledges through a pipe, let it
// run a random while, SIGKILL it, and collect what it acknowledged.
//
// The child first sends `opened_marker` once its store is open. Every other round the while starts only
// then: an open (recovery, a pool's audit) may outlast the window on a loaded or sanitized build, and the
// children must make progress; the other rounds also kill during open and recovery.
//
// Thread safety: test code, one thread (fork from a single-threaded test).
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace tessel::test {

/// What a child sends once its store is open, before any acknowledgement.
inline constexpr std::uint64_t opened_marker = UINT64_MAX;

struct killed_child {
  bool killed = false;  ///< false: the child ended by itself (exit_code says how)
  int exit_code = 0;
  std::vector<std::uint64_t> acks;  ///< what it acknowledged, in order, the opened marker left out
};

/// Runs `child(ack_fd)` (it must never return: it writes until killed) in a forked process, waits for its
/// opened marker when `wait_for_open`, sleeps up to `max_delay_us` (30 ms unless given) drawn from `rng`,
/// kills it and reaps it.
inline killed_child run_and_kill(const std::function<void(int)>& child, bool wait_for_open, std::mt19937_64& rng,
                                 std::uint64_t max_delay_us = 30000) {
  killed_child out;
  int fds[2];
  if (::pipe(fds) != 0) return out;
  const pid_t pid = ::fork();
  if (pid < 0) return out;
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    _exit(99);  // a child that returns did not write until killed
  }
  ::close(fds[1]);
  std::uint64_t value = 0;
  if (wait_for_open && ::read(fds[0], &value, sizeof value) == sizeof value && value != opened_marker) {
    out.acks.push_back(value);  // a child that sent no marker: its first acknowledgement
  }
  ::usleep(static_cast<useconds_t>(rng() % (max_delay_us + 1)));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.killed = WIFSIGNALED(status);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  while (::read(fds[0], &value, sizeof value) == sizeof value) {
    if (value != opened_marker) out.acks.push_back(value);
  }
  ::close(fds[0]);
  return out;
}

}  // namespace tessel::test
