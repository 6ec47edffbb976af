// Title updates (--title-every), on the broadcasters' loop: every S seconds a round of
// `GET /admin/metadata?mount=M&mode=updinfo&song=bench%20title%20N` with the source's
// credentials, as libshout sends on a track change, one request per mount (every mount gets
// title N), at most kMaxInFlight connections at a time, all on libuv TCP. A round is "made"
// once every mount answered 200; any other outcome counts as a failure.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "options.h"

namespace ringcast::bench {

class TitleUpdater {
 public:
  TitleUpdater(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay);
  ~TitleUpdater();
  TitleUpdater(const TitleUpdater&) = delete;
  TitleUpdater& operator=(const TitleUpdater&) = delete;

  // Rounds are due at from_ns + k * S (k = 0, 1, ...) before until_ns. A round due while the
  // one before is still out starts once it is in.
  void schedule(std::uint64_t from_ns, std::uint64_t until_ns);
  // Starts what is due, and gives up on requests unanswered for kAnswerTimeoutNs.
  void pump(std::uint64_t now_ns);
  // Closes every connection (those still out are neither successes nor failures).
  void close();

  std::uint64_t updates() const { return updates_; }    // requests answered 200
  std::uint64_t failures() const { return failures_; }  // any other answer, or none
  const std::string& first_error() const { return first_error_; }
  // (N, when the last mount answered 200 for "bench title N"), for the rounds all of whose
  // requests succeeded.
  const std::vector<std::pair<std::uint32_t, std::uint64_t>>& made() const { return made_; }

  static constexpr std::uint32_t kMaxInFlight = 16;
  static constexpr std::uint64_t kAnswerTimeoutNs = 5'000'000'000;

 private:
  struct Request;

  void start(Request& request, std::uint32_t mount, std::uint64_t now_ns);
  void on_connect(Request& request, int status);
  void on_read(Request& request, ssize_t nread, const uv_buf_t* buf);
  void finish(Request& request, const std::string& error);  // error empty: answered 200
  void on_closed(Request& request);

  // libuv callbacks
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void connect_cb(uv_connect_t* connect, int status);
  static void write_cb(uv_write_t* write, int status);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void close_cb(uv_handle_t* handle);

  uv_loop_t* loop_;
  const Options& options_;
  sockaddr_storage relay_;
  std::string authorization_;
  std::unique_ptr<Request[]> requests_;
  std::uint32_t slots_;
  std::uint64_t every_ns_;
  std::uint64_t next_round_ns_ = 0;
  std::uint64_t until_ns_ = 0;
  bool scheduled_ = false;
  bool closing_ = false;
  // The round under way: its title, the next mount to ask, answers still awaited.
  bool round_active_ = false;
  bool round_failed_ = false;
  std::uint32_t title_ = 0;
  std::uint32_t next_mount_ = 0;
  std::uint32_t awaited_ = 0;
  std::uint64_t updates_ = 0;
  std::uint64_t failures_ = 0;
  std::string first_error_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> made_;
  std::array<char, 1024> read_buffer_;  // only the status line matters; the rest is dropped
};

// "bench title 7" → "bench%20title%207": everything but RFC 3986's unreserved characters.
std::string percent_encode(std::string_view text);

}  // namespace ringcast::bench
