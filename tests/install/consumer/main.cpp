// A consumer of the installed package: opens a store, writes a key, reads it back.
// Exit code 0 on success, 1 with a message on stderr otherwise.
#include <cstdio>
#include <string_view>

#include <tessel/store.hpp>

int main() {
  auto s = tessel::store::open(tessel::options{});
  if (!s) {
    std::fprintf(stderr, "open: %s\n", s.error().to_string().c_str());
    return 1;
  }
  if (auto r = (*s)->put(tessel::as_bytes("k"), tessel::as_bytes("v")); !r) {
    std::fprintf(stderr, "put: %s\n", r.error().to_string().c_str());
    return 1;
  }
  auto v = (*s)->get(tessel::as_bytes("k"));
  if (!v) {
    std::fprintf(stderr, "get: %s\n", v.error().to_string().c_str());
    return 1;
  }
  if (tessel::as_string_view(*v) != std::string_view("v")) {
    std::fprintf(stderr, "get: wrong value\n");
    return 1;
  }
  std::puts("tessel consumer: ok");
  return 0;
}
