// Whole-tree inspection: node counts by kind, and a verifier that checks every structural invariant and
// names the first one broken. Used by tests, and by `tessel check` once stores live in files.
//
// Thread safety: reads only; run it on a frozen root or with the writer quiet.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

#include "index/tree_access.hpp"

namespace tessel::index {

struct tree_stats {
  std::size_t leaves = 0;
  std::size_t n4 = 0;
  std::size_t n16 = 0;
  std::size_t n32 = 0;
  std::size_t n48 = 0;
  std::size_t n256 = 0;
  std::size_t max_depth = 0;  ///< inner nodes on the longest root-to-leaf path
};

inline tree_stats inspect_stats(std::byte* base, node_ref root) noexcept {
  tree_stats s;
  if (root.is_empty()) return s;
  std::vector<std::pair<node_ref, std::size_t>> pending;
  try {
    pending.emplace_back(root, 0);
    while (!pending.empty()) {
      const auto [r, level] = pending.back();
      pending.pop_back();
      switch (r.kind()) {
        case node_kind::leaf:
          ++s.leaves;
          if (level > s.max_depth) s.max_depth = level;
          continue;
        case node_kind::n4: ++s.n4; break;
        case node_kind::n16: ++s.n16; break;
        case node_kind::n32: ++s.n32; break;
        case node_kind::n48: ++s.n48; break;
        default: ++s.n256; break;
      }
      for (int pos = next_pos(base, r, terminal_pos - 1); pos != npos; pos = next_pos(base, r, pos)) {
        pending.emplace_back(child_at(base, r, pos), level + 1);
      }
    }
  } catch (...) {
    // Out of memory: the counts cover what was visited.
  }
  return s;
}

namespace detail {

class tree_verifier {
 public:
  tree_verifier(std::byte* base, std::size_t expected_size) : base_(base), expected_size_(expected_size) {}

  result<void> run(node_ref root) {
    if (!root.is_empty()) visit(root, 0, ~0ULL);
    if (!problem_.empty()) return make_error(errc::corruption, problem_);
    if (leaves_ != expected_size_) {
      return make_error(errc::corruption, "tree holds " + std::to_string(leaves_) + " leaves but records size " +
                                              std::to_string(expected_size_));
    }
    return {};
  }

 private:
  void fail(const std::string& what) {
    if (problem_.empty()) problem_ = what + " (at key path of length " + std::to_string(path_.size()) + ")";
  }

  void visit_leaf(node_ref r, std::uint64_t parent_epoch) {
    ++leaves_;
    const key_view k = leaf_key(base_, r);
    if (leaf_layout::epoch(leaf_at(base_, r)) > parent_epoch) fail("leaf born after its parent");
    if (!starts_with(k, as_bytes(path_))) fail("leaf key does not extend the path above it");
    if (have_previous_ && compare(k, as_bytes(previous_)) <= 0) fail("leaves out of order");
    previous_.assign(as_string_view(k));
    have_previous_ = true;
  }

  void visit(node_ref r, std::size_t depth, std::uint64_t parent_epoch) {
    if (!problem_.empty()) return;
    if (r.is_leaf()) {
      visit_leaf(r, parent_epoch);
      return;
    }
    if (!r.is_inner()) {
      fail("reference of unknown kind " + std::to_string(static_cast<int>(r.kind())));
      return;
    }
    const node_header* h = header_of(base_, r);
    if (h->epoch() > parent_epoch) fail("node born after its parent");
    check_node(r);
    const std::size_t plen = r.length();
    const std::uint8_t* inline_bytes = inline_prefix(base_, r);
    const std::uint8_t* full = full_prefix(base_, r, depth);
    for (std::size_t i = 0; i < std::min(plen, prefix_capacity(r.kind())); ++i) {
      if (inline_bytes[i] != full[i]) fail("inline prefix disagrees with the keys below");
    }
    const std::size_t saved = path_.size();
    path_.append(reinterpret_cast<const char*>(full), plen);
    const std::size_t child_depth = depth + plen;
    const node_ref terminal = terminal_of(base_, r);
    const unsigned entries = h->count() + (terminal.is_empty() ? 0U : 1U);
    if (entries < 2) fail("inner node with " + std::to_string(entries) + " entries");
    if (!terminal.is_empty()) {
      if (!terminal.is_leaf())
        fail("terminal is not a leaf");
      else if (terminal.length() != child_depth)
        fail("terminal key length differs from its depth");
      visit(terminal, child_depth, h->epoch());
    }
    for (int pos = next_pos(base_, r, terminal_pos); pos != npos; pos = next_pos(base_, r, pos)) {
      const node_ref child = child_at(base_, r, pos);
      if (child.is_empty()) {
        fail("empty child slot counted as a child");
        break;
      }
      path_.push_back(static_cast<char>(key_at(base_, r, pos)));
      visit(child, child_depth + 1, h->epoch());
      path_.pop_back();
    }
    path_.resize(saved);
  }

  void check_node(node_ref r) {
    const unsigned count = header_of(base_, r)->count();
    if (count > capacity_of(r.kind())) fail("node holds more children than its kind allows");
    switch (r.kind()) {
      case node_kind::n4:
      case node_kind::n16:
      case node_kind::n32: {
        const std::uint8_t* keys = sorted_keys(base_, r);
        for (unsigned i = 1; i < count; ++i) {
          if (keys[i - 1] >= keys[i]) fail("sorted node keys out of order");
        }
        break;
      }
      case node_kind::n48: {
        const node48* n = node_cast<node48>(base_, r);
        unsigned used = 0;
        bool seen[48] = {};
        for (int b = 0; b < 256; ++b) {
          const unsigned slot = n->index[b];
          if (slot == 0) continue;
          if (slot > 48 || seen[slot - 1] || n->children[slot - 1].is_empty())
            fail("n48 index is inconsistent");
          else
            seen[slot - 1] = true;
          ++used;
        }
        if (used != count) fail("n48 count disagrees with its index");
        break;
      }
      default: {
        const node256* n = node_cast<node256>(base_, r);
        unsigned present = 0;
        for (const std::uint64_t word : n->present) present += static_cast<unsigned>(__builtin_popcountll(word));
        if (present != count) fail("n256 count disagrees with its presence map");
        if (count > n->header.slot_groups() * node256::slot_group) fail("n256 holds more children than slots");
        for (unsigned i = 0; i < count; ++i) {
          if (n->children[i].is_empty()) fail("n256 has an empty slot below its count");
        }
        break;
      }
    }
  }

  std::byte* base_;
  std::size_t expected_size_;
  std::size_t leaves_ = 0;
  std::string path_;
  std::string previous_;
  bool have_previous_ = false;
  std::string problem_;
};

}  // namespace detail

/// Checks the tree under `root` holds `expected_size` leaves and every invariant; the error names the first
/// one broken.
inline result<void> inspect_verify(std::byte* base, node_ref root, std::size_t expected_size) noexcept {
  try {
    return detail::tree_verifier(base, expected_size).run(root);
  } catch (...) {
    return make_error(errc::no_memory, "verifying the tree");
  }
}

}  // namespace tessel::index
