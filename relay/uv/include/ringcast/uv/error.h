// libuv's error codes (negative errno values, UV_EOF and its own) as std::error_code, converted
// once where a libuv call returns: code above this layer tests `if (error)` and logs
// error.message() (uv_strerror's text).
#pragma once

#include <system_error>

namespace ringcast::uv {

// The category of libuv's status codes: value() is the code as libuv returned it (negative).
const std::error_category& category();

// 0 is no error.
inline std::error_code error(int status) {
  return status == 0 ? std::error_code() : std::error_code(status, category());
}
// An errno from a system call the relay makes itself (a recv on demand), as libuv would say it.
std::error_code from_errno(int errno_value);

}  // namespace ringcast::uv
