#include "store/cross_shard_batch.hpp"

#include "common/le_codec.hpp"

namespace tessel::detail {

namespace {

/// Reads fields off an encoding; a read past its end makes it bad.
class reader {
 public:
  explicit reader(std::string_view s) noexcept : s_(s) {}
  template <class T>
  T le() noexcept {
    if (s_.size() - at_ < sizeof(T)) {
      bad_ = true;
      return T{};
    }
    const T v = load_le<T>(reinterpret_cast<const std::byte*>(s_.data() + at_));
    at_ += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) noexcept {
    if (s_.size() - at_ < n) {
      bad_ = true;
      return {};
    }
    const std::string_view v = s_.substr(at_, n);
    at_ += n;
    return v;
  }
  [[nodiscard]] bool bad() const noexcept { return bad_; }
  [[nodiscard]] bool done() const noexcept { return !bad_ && at_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t at_ = 0;
  bool bad_ = false;
};

}  // namespace

std::string encode_batch(const std::vector<batch_part>& parts) {
  std::string out;
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(parts.size()));
  for (const batch_part& p : parts) {
    append_le<std::uint32_t>(out, p.shard);
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(p.ops.size()));
    for (const batch_op& op : p.ops) {
      append_le<std::uint8_t>(out, op.erase ? 1 : 0);
      append_le<std::uint32_t>(out, static_cast<std::uint32_t>(op.key.size()));
      append_le<std::uint32_t>(out, static_cast<std::uint32_t>(op.value.size()));
      out.append(op.key);
      out.append(op.value);
    }
  }
  return out;
}

result<std::vector<batch_part>> decode_batch(std::string_view encoded) noexcept {
  try {
    reader r(encoded);
    std::vector<batch_part> parts;
    const auto count = r.le<std::uint32_t>();
    for (std::uint32_t i = 0; i < count && !r.bad(); ++i) {
      batch_part p;
      p.shard = r.le<std::uint32_t>();
      const auto ops = r.le<std::uint32_t>();
      for (std::uint32_t j = 0; j < ops && !r.bad(); ++j) {
        batch_op op;
        const auto kind = r.le<std::uint8_t>();
        const auto key_bytes = r.le<std::uint32_t>();
        const auto value_bytes = r.le<std::uint32_t>();
        op.erase = kind == 1;
        op.key = r.bytes(key_bytes);
        op.value = r.bytes(value_bytes);
        if (kind > 1) return make_error(errc::corruption, "a cross-shard batch names an unknown operation");
        p.ops.push_back(std::move(op));
      }
      parts.push_back(std::move(p));
    }
    if (!r.done()) return make_error(errc::corruption, "a cross-shard batch record does not parse");
    return parts;
  } catch (...) {
    return make_error(errc::no_memory, "decoding a cross-shard batch");
  }
}

}  // namespace tessel::detail
