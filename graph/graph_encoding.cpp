#include "graph/graph_encoding.hpp"

#include <cstring>
#include <optional>

#include <openssl/evp.h>

#include "common/le_codec.hpp"

namespace tessel::detail {

namespace {

// Domain tags, each ending in a zero byte: a state's encoding can never be read as a node's.
constexpr std::string_view state_tag{"tessel/state/1\0", 15};
constexpr std::string_view node_tag{"tessel/node/1\0", 14};
constexpr std::string_view version_node_tag{"tessel/vnode/1\0", 15};
constexpr std::string_view snapshot_tag{"tessel/snapshot/1\0", 18};

void put_digest(std::string& out, const digest& d) { out.append(reinterpret_cast<const char*>(d.bytes.data()), 32); }

/// An optional text: u8 present (0/1), u32 length, the bytes (none when absent).
void put_optional(std::string& out, const std::optional<std::string>& text) {
  append_le<std::uint8_t>(out, text ? 1 : 0);
  const std::string_view t = text ? std::string_view(*text) : std::string_view();
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(t.size()));
  out.append(t);
}

/// Reads fields off an encoding; any read past its end sets `bad`.
class reader {
 public:
  explicit reader(std::string_view s) noexcept : s_(s) {}
  template <class T>
  T le() noexcept {
    if (s_.size() - at_ < sizeof(T)) return fail<T>();
    const T v = load_le<T>(reinterpret_cast<const std::byte*>(s_.data() + at_));
    at_ += sizeof(T);
    return v;
  }
  std::string_view bytes(std::uint64_t n) noexcept {
    if (s_.size() - at_ < n) return fail<std::string_view>();
    const std::string_view v = s_.substr(at_, n);
    at_ += n;
    return v;
  }
  digest id() noexcept {
    digest d;
    const std::string_view b = bytes(32);
    if (!bad_) std::memcpy(d.bytes.data(), b.data(), 32);
    return d;
  }
  bool tag(std::string_view t) noexcept { return bytes(t.size()) == t && !bad_; }
  /// What put_optional wrote; a flag other than 0/1, or bytes behind an absent text, make the record bad.
  std::optional<std::string_view> optional_text() noexcept {
    const auto present = le<std::uint8_t>();
    const std::string_view text = bytes(le<std::uint32_t>());
    if (present > 1 || (present == 0 && !text.empty())) return fail<std::optional<std::string_view>>();
    if (present == 0) return std::nullopt;
    return text;
  }
  [[nodiscard]] bool done() const noexcept { return !bad_ && at_ == s_.size(); }

 private:
  template <class T>
  T fail() noexcept {
    bad_ = true;
    at_ = s_.size();
    return T{};
  }
  std::string_view s_;
  std::size_t at_ = 0;
  bool bad_ = false;
};

}  // namespace

std::string graph_key(graph_record kind, const digest& id) {
  std::string k(graph_key_prefix);
  k.push_back(static_cast<char>(kind));
  k.push_back('/');
  put_digest(k, id);
  return k;
}

digest sha256(std::span<const std::byte> bytes) noexcept {
  digest d;
  unsigned length = 0;
  // EVP_Digest with the built-in SHA-256 cannot fail for in-memory input short of an allocation failure
  // inside OpenSSL; a zero digest then makes every later lookup miss rather than match something wrong.
  if (EVP_Digest(bytes.data(), bytes.size(), d.bytes.data(), &length, EVP_sha256(), nullptr) != 1 || length != 32) {
    d.bytes.fill(0);
  }
  return d;
}

std::string encode_state(const state_data& data) {
  std::string out(state_tag);
  put_optional(out, data.content_type);
  append_le<std::uint64_t>(out, data.bytes.size());
  out.append(data.bytes);
  return out;
}

namespace {

void put_parents(std::string& out, std::span<const node_id> parents) {
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(parents.size()));
  for (const node_id& p : parents) put_digest(out, p.id);
}

void put_metadata(std::string& out, const state_metadata& metadata) {
  append_le<std::uint64_t>(out, metadata.created_unix_ns);
  put_optional(out, metadata.label);
}

}  // namespace

std::string encode_node(std::span<const node_id> parents, const state_ref& data, const state_metadata& metadata) {
  std::string out(node_tag);
  put_parents(out, parents);
  put_digest(out, data.id);
  put_metadata(out, metadata);
  return out;
}

std::string encode_node(std::span<const node_id> parents, const store_version& version,
                        const state_metadata& metadata) {
  std::string out(version_node_tag);
  put_parents(out, parents);
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(version.snapshot_name.size()));
  out.append(version.snapshot_name);
  append_le<std::uint64_t>(out, version.epoch);
  append_le<std::uint64_t>(out, version.at_seq);
  append_le<std::uint64_t>(out, version.keys);
  put_metadata(out, metadata);
  return out;
}

std::string encode_snapshot(const node_id& node) {
  std::string out(snapshot_tag);
  put_digest(out, node.id);
  return out;
}

result<state_data> decode_state(std::string_view encoded) noexcept {
  try {
    reader r(encoded);
    state_data d;
    const bool tagged = r.tag(state_tag);
    const std::optional<std::string_view> type = r.optional_text();
    d.bytes.assign(r.bytes(r.le<std::uint64_t>()));
    if (!tagged || !r.done()) return make_error(errc::corruption, "a stored state record does not parse");
    if (type) d.content_type.emplace(*type);
    return d;
  } catch (...) {
    return make_error(errc::no_memory, "decoding a state record");
  }
}

result<state_node> decode_node(std::string_view encoded) noexcept {
  try {
    reader r(encoded);
    state_node n;
    const bool over_version = encoded.starts_with(version_node_tag);
    const bool tagged = r.tag(over_version ? version_node_tag : node_tag);
    const auto parents = r.le<std::uint32_t>();
    if (!tagged || std::uint64_t{parents} * 32 > encoded.size()) {
      return make_error(errc::corruption, "a stored node record does not parse");
    }
    n.parents.reserve(parents);
    for (std::uint32_t i = 0; i < parents; ++i) n.parents.push_back({r.id()});
    if (over_version) {
      store_version& v = n.version.emplace();
      v.snapshot_name.assign(r.bytes(r.le<std::uint32_t>()));
      v.epoch = r.le<std::uint64_t>();
      v.at_seq = r.le<std::uint64_t>();
      v.keys = r.le<std::uint64_t>();
    } else {
      n.data = {r.id()};
    }
    n.metadata.created_unix_ns = r.le<std::uint64_t>();
    const std::optional<std::string_view> label = r.optional_text();
    if (!r.done()) return make_error(errc::corruption, "a stored node record does not parse");
    if (label) n.metadata.label.emplace(*label);
    return n;
  } catch (...) {
    return make_error(errc::no_memory, "decoding a node record");
  }
}

result<node_id> decode_snapshot(std::string_view encoded) noexcept {
  reader r(encoded);
  const bool tagged = r.tag(snapshot_tag);
  const digest node = r.id();
  if (!tagged || !r.done()) return make_error(errc::corruption, "a stored snapshot record does not parse");
  return node_id{node};
}

}  // namespace tessel::detail
