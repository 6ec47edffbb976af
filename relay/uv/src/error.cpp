#include "ringcast/uv/error.h"

#include <uv.h>

#include <string>

namespace ringcast::uv {

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "libuv"; }
  std::string message(int status) const override { return uv_strerror(status); }
};

}  // namespace

std::error_code from_errno(int errno_value) {
  return error(uv_translate_sys_error(errno_value));
}

const std::error_category& category() {
  static const Category instance;
  return instance;
}

}  // namespace ringcast::uv
