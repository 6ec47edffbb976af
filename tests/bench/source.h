// The broadcaster: one connection that speaks the Icecast PUT real encoders send, then streams
// bench records at the configured rate, paced by the caller's timer (catching up if late).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "options.h"
#include "payload.h"

namespace ringcast::bench {

class Source {
 public:
  enum class State { kIdle, kConnecting, kAwaitingResponse, kStreaming, kFailed, kClosed };

  Source(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay);
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  void start();
  // Generates every chunk due by now_ns (all of them, however late) and writes them.
  void pump(std::uint64_t now_ns);
  void close();

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  std::uint64_t bytes_generated() const { return writer_.bytes_written(); }
  std::uint64_t bytes_sent() const { return bytes_sent_; }  // accepted by the kernel
  std::uint64_t max_backlog_bytes() const { return max_backlog_; }

 private:
  void on_connect(int status);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_write(int status);
  void flush();
  void fail(std::string message);

  // libuv callbacks
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void connect_cb(uv_connect_t* request, int status);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void write_cb(uv_write_t* request, int status);
  static void close_cb(uv_handle_t* handle);

  uv_loop_t* loop_;
  const Options& options_;
  sockaddr_storage relay_;
  uv_tcp_t tcp_;
  uv_connect_t connect_;
  uv_write_t write_;
  State state_ = State::kIdle;
  std::string error_;
  std::string request_;
  std::string response_head_;
  std::array<char, 4096> read_buffer_;
  RecordWriter writer_;
  std::uint64_t stream_start_ns_ = 0;
  std::uint64_t chunks_generated_ = 0;
  // Double buffer: one write in flight at a time; chunks due meanwhile wait in staging_.
  std::vector<std::uint8_t> in_flight_;
  std::vector<std::uint8_t> staging_;
  bool write_pending_ = false;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t max_backlog_ = 0;
};

}  // namespace ringcast::bench
