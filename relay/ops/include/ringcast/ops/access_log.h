// The access log: one line per finished viewer or source session, in the Combined Log Format
// that log tools already read, followed by the session's duration and why it ended:
//
//   127.0.0.1 - - [01/Dec/2026:13:45:12 +0000] "GET /live.ts HTTP/1.1" 200 1572864 "-" "mpv 0.35" 12.503 peer-closed
//
// Written by worker threads when a session ends (never per chunk), under a mutex. reopen()
// (SIGHUP) lets logrotate move the file away.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace ringcast::relay {

struct AccessRecord {
  std::string_view peer;        // "ADDRESS:PORT"
  std::string_view user;        // "-" for viewers, "source" for sources
  std::string_view method;
  std::string_view target;
  unsigned http_major = 1, http_minor = 1;
  std::uint64_t bytes = 0;       // sent to a viewer, received from a source
  std::string_view referer;
  std::string_view user_agent;
  std::uint64_t unix_end_ms = 0;
  std::uint64_t duration_ms = 0;
  std::string_view reason;       // peer-closed, stream-ended, slow, kicked, ...
};

// One line, without the newline.
std::string format_access_line(const AccessRecord& record);

class AccessLog {
 public:
  AccessLog() = default;
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // "-": standard output; empty: disabled. Returns an error text, empty on success.
  std::string open(const std::string& path);
  std::string reopen();
  bool enabled() const { return !path_.empty(); }
  void write(const AccessRecord& record);

 private:
  std::mutex mutex_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace ringcast::relay
