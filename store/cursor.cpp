// tessel::cursor and tessel::scan_range: thin wrappers over the tree's cursor. One out-of-line call per step.
#include <utility>

#include "tessel/store.hpp"

#include "store/store_impl.hpp"

namespace tessel {

cursor::cursor(std::unique_ptr<detail::cursor_impl> impl) noexcept : impl_(std::move(impl)) {}
cursor::cursor(cursor&&) noexcept = default;
cursor& cursor::operator=(cursor&&) noexcept = default;
cursor::~cursor() = default;

bool cursor::valid() const noexcept { return impl_ && impl_->cursor_.valid(); }
key_view cursor::key() const noexcept { return impl_->cursor_.key(); }
value_view cursor::value() const noexcept { return impl_->cursor_.value(); }
// A cursor of an empty snapshot handle has no impl: it stays invalid.
void cursor::seek_to_first() noexcept {
  if (impl_) impl_->reseek().seek_to_first();
}
void cursor::seek_to_last() noexcept {
  if (impl_) impl_->reseek().seek_to_last();
}
void cursor::seek(key_view key) noexcept {
  if (impl_) impl_->reseek().seek(key);
}
void cursor::seek_in_prefix(key_view prefix) noexcept {
  if (impl_) impl_->reseek().seek_within(prefix, prefix.size());
}
void cursor::seek_range(key_view start, key_view end) noexcept {
  if (impl_) impl_->reseek().seek_range(start, end);
}
void cursor::seek_for_prev(key_view key) noexcept {
  if (impl_) impl_->reseek().seek_for_prev(key);
}
void cursor::next() noexcept { impl_->cursor_.next(); }
void cursor::prev() noexcept { impl_->cursor_.prev(); }

scan_range::scan_range(cursor c, std::string start, std::string bound, bound_kind kind) noexcept
    : cursor_(std::move(c)), start_(std::move(start)), bound_(std::move(bound)), kind_(kind) {}

scan_range scan_range::with_prefix(cursor c, bytes_view prefix) noexcept {
  const std::string p(as_string_view(prefix));
  return scan_range(std::move(c), p, p, bound_kind::prefix);
}

scan_range scan_range::in_range(cursor c, bytes_view start, bytes_view end) noexcept {
  return scan_range(std::move(c), std::string(as_string_view(start)), std::string(as_string_view(end)),
                    bound_kind::end_key);
}

bool scan_range::in_bounds() const noexcept {
  if (!cursor_.valid()) return false;
  switch (kind_) {
    case bound_kind::prefix: return starts_with(cursor_.key(), as_bytes(bound_));
    case bound_kind::end_key: return compare(cursor_.key(), as_bytes(bound_)) < 0;
    default: return true;
  }
}

scan_range::iterator scan_range::begin() noexcept {
  // The cursor stays among the keys the bounds allow, and reads nothing ahead beyond them.
  switch (kind_) {
    case bound_kind::prefix: cursor_.seek_in_prefix(as_bytes(bound_)); break;
    case bound_kind::end_key: cursor_.seek_range(as_bytes(start_), as_bytes(bound_)); break;
    default: cursor_.seek(as_bytes(start_)); break;
  }
  return iterator(this);
}

scan_range::iterator::iterator(scan_range* range) noexcept : range_(range) { load(); }

void scan_range::iterator::load() noexcept {
  if (range_ == nullptr) return;
  if (!range_->in_bounds()) {
    range_ = nullptr;
    return;
  }
  current_ = {range_->cursor_.key(), range_->cursor_.value()};
}

scan_range::iterator& scan_range::iterator::operator++() noexcept {
  range_->cursor_.next();
  load();
  return *this;
}

}  // namespace tessel
