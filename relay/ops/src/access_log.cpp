// Access log lines and the file they go to.
#include "ringcast/ops/access_log.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {

namespace {

// Quoted fields: a '"' or a control character in client-supplied text would break parsers.
std::string quoted(std::string_view text) {
  if (text.empty()) return "\"-\"";
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string format_access_line(const AccessRecord& r) {
  const std::time_t seconds = static_cast<std::time_t>(r.unix_end_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char when[32];
  std::strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &utc);
  std::string request = fmt::format("{} {} HTTP/{}.{}", r.method, r.target, r.http_major, r.http_minor);
  return fmt::format("{} - {} [{}] {} 200 {} {} {} {}.{:03} {}", address_of(r.peer),
                     r.user.empty() ? "-" : r.user, when, quoted(request), r.bytes, quoted(r.referer),
                     quoted(r.user_agent), r.duration_ms / 1000, r.duration_ms % 1000,
                     r.reason.empty() ? "-" : r.reason);
}

AccessLog::~AccessLog() {
  if (file_ != nullptr && file_ != stdout) std::fclose(file_);
}

std::string AccessLog::open(const std::string& path) {
  std::lock_guard lock(mutex_);
  path_ = path;
  if (path.empty()) return {};
  if (path == "-") {
    file_ = stdout;
    return {};
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    path_.clear();
    return fmt::format("cannot open access log {}: {}", path, std::strerror(errno));
  }
  std::setvbuf(file, nullptr, _IOLBF, 0);
  file_ = file;
  return {};
}

std::string AccessLog::reopen() {
  std::lock_guard lock(mutex_);
  if (path_.empty() || path_ == "-") return {};
  std::FILE* file = std::fopen(path_.c_str(), "a");
  if (file == nullptr) return fmt::format("cannot reopen access log {}: {}", path_, std::strerror(errno));
  std::setvbuf(file, nullptr, _IOLBF, 0);
  if (file_ != nullptr) std::fclose(file_);
  file_ = file;
  return {};
}

void AccessLog::write(const AccessRecord& record) {
  const std::string line = format_access_line(record);
  std::lock_guard lock(mutex_);
  if (file_ == nullptr) return;
  std::fputs(line.c_str(), file_);
  std::fputc('\n', file_);
  if (file_ == stdout) std::fflush(file_);
}

}  // namespace ringcast::relay
