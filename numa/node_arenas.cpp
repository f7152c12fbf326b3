#include "numa/node_arenas.hpp"

#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <dlfcn.h>

namespace tessel::numa {

namespace {

using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

/// jemalloc's mallctl when the process has one, found once.
mallctl_fn mallctl_of_process() noexcept {
  static const mallctl_fn fn = [] {
    void* symbol = ::dlsym(RTLD_DEFAULT, "mallctl");
    mallctl_fn f = nullptr;
    static_assert(sizeof f == sizeof symbol);
    std::memcpy(&f, &symbol, sizeof f);  // object to function pointer: POSIX guarantees it works
    return f;
  }();
  return fn;
}

result<mallctl_fn> require_jemalloc() noexcept {
  if (mallctl_fn f = mallctl_of_process()) return f;
  return make_error(errc::not_supported, "the process does not allocate with jemalloc");
}

error mallctl_error(const char* name, int code) {
  return error(errc::io_error, std::string("jemalloc refused ") + name + " (error " + std::to_string(code) + ")");
}

}  // namespace

bool jemalloc_available() noexcept { return mallctl_of_process() != nullptr; }

result<unsigned> use_node_arena(unsigned node) noexcept {
  auto mallctl = require_jemalloc();
  if (!mallctl) return tl::unexpected(std::move(mallctl.error()));
  static std::mutex mutex;
  static std::map<unsigned, unsigned> arena_of_node;
  unsigned arena = 0;
  try {
    std::lock_guard lock(mutex);
    auto it = arena_of_node.find(node);
    if (it == arena_of_node.end()) {
      std::size_t size = sizeof arena;
      if (const int rc = (*mallctl)("arenas.create", &arena, &size, nullptr, 0); rc != 0) {
        return tl::unexpected(mallctl_error("arenas.create", rc));
      }
      it = arena_of_node.emplace(node, arena).first;
    }
    arena = it->second;
  } catch (...) {
    return make_error(errc::no_memory, "remembering a node's arena");
  }
  if (const int rc = (*mallctl)("thread.arena", nullptr, nullptr, &arena, sizeof arena); rc != 0) {
    return tl::unexpected(mallctl_error("thread.arena", rc));
  }
  return arena;
}

result<unsigned> current_arena() noexcept {
  auto mallctl = require_jemalloc();
  if (!mallctl) return tl::unexpected(std::move(mallctl.error()));
  unsigned arena = 0;
  std::size_t size = sizeof arena;
  if (const int rc = (*mallctl)("thread.arena", &arena, &size, nullptr, 0); rc != 0) {
    return tl::unexpected(mallctl_error("thread.arena", rc));
  }
  return arena;
}

}  // namespace tessel::numa
