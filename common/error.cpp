#include "tessel/error.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include "common/errno_error.hpp"

namespace tessel {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::not_found: return "not_found";
    case errc::invalid_argument: return "invalid_argument";
    case errc::corruption: return "corruption";
    case errc::io_error: return "io_error";
    case errc::no_space: return "no_space";
    case errc::no_memory: return "no_memory";
    case errc::busy: return "busy";
    case errc::conflict: return "conflict";
    case errc::version_mismatch: return "version_mismatch";
    case errc::not_supported: return "not_supported";
    case errc::aborted: return "aborted";
    case errc::fatal: return "fatal";
    case errc::compacted: return "compacted";
  }
  return "unknown";
}

std::string_view error::message() const noexcept {
  return message_.empty() ? tessel::to_string(code_) : std::string_view(message_);
}

std::string error::to_string() const {
  std::string out(tessel::to_string(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

error errno_error(int err, std::string_view context) {
  errc code = errc::io_error;
  switch (err) {
    case ENOENT: code = errc::not_found; break;
    case ENOSPC:
    case EDQUOT: code = errc::no_space; break;
    case ENOMEM: code = errc::no_memory; break;
    case EAGAIN:
    case EBUSY: code = errc::busy; break;
    case EINVAL: code = errc::invalid_argument; break;
    default: break;
  }
  std::string message(context);
  message += ": ";
  message += std::strerror(err);
  return error(code, std::move(message));
}

}  // namespace tessel
