// A broadcaster: one connection to one mount that speaks the Icecast PUT real encoders send,
// then streams bench records of its stream (the mount's index) at the configured rate, on a
// pacing grid fixed at construction and driven by the caller (catching up if late; next_wakeup
// says when to call again). On request it reconnects as an encoder that lost its connection
// would: it cuts its last record at the schedule's offset (payload.h: tear_offset), closes, PUTs
// again at once and continues the stream as the next generation. The pacing spans the
// reconnect, so nothing is lost.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "options.h"
#include "pacing.h"
#include "payload.h"

namespace ringcast::bench {

class Source {
 public:
  enum class State {
    kIdle,
    kConnecting,
    kAwaitingResponse,
    kStreaming,
    kCutting,    // reconnecting: the last writes go out, then the relay's close is awaited
    kClosing,    // reconnecting: the old handle closes, then the next generation connects
    kRetryWait,  // reconnecting: the relay still had the old source (403); PUT again shortly
    kFailed,
    kClosed
  };

  // Broadcasts mount `stream` (Options::mount_path). Its chunks are due on the grid
  // pacing_origin_ns + n * interval; the first one goes out once streaming, at a grid point.
  Source(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
         std::uint32_t stream, std::uint64_t pacing_origin_ns);
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  void start();
  // Generates every chunk due by now_ns (all of them, however late) and writes them.
  void pump(std::uint64_t now_ns);
  // When pump should run next (after a pump at now_ns): the next chunk, the end of a retry
  // wait or of a close timeout, or soon while a callback is awaited; nullopt once it has ended.
  std::optional<std::uint64_t> next_wakeup(std::uint64_t now_ns) const;
  void close();
  // Starts a reconnect (only while streaming; false otherwise).
  bool reconnect(std::uint64_t now_ns);
  // A reconnect is under way.
  bool reconnecting() const { return reconnecting_; }

  State state() const { return state_; }
  const std::string& mount() const { return mount_; }
  const std::string& error() const { return error_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }  // accepted by the kernel
  std::uint64_t max_backlog_bytes() const { return max_backlog_; }
  std::uint64_t reconnects() const { return reconnects_; }  // completed: streaming again
  std::uint64_t put_retries() const { return put_retries_; }
  std::uint64_t max_reconnect_ns() const { return max_reconnect_ns_; }  // cut to streaming
  std::uint64_t bytes_cut() const { return bytes_cut_; }  // torn records' bytes that went out

 private:
  void on_connect(int status);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_write(int status);
  void on_shutdown(int status);
  void on_closed();
  void finish_cut();
  void close_handle();
  void flush();
  void generate_due(std::uint64_t now_ns);
  void fail(std::string message);

  // libuv callbacks
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void connect_cb(uv_connect_t* request, int status);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void write_cb(uv_write_t* request, int status);
  static void shutdown_cb(uv_shutdown_t* request, int status);
  static void close_cb(uv_handle_t* handle);

  uv_loop_t* loop_;
  const Options& options_;
  sockaddr_storage relay_;
  std::string mount_;
  std::uint32_t stream_;
  Pacing pacing_;
  uv_tcp_t tcp_;
  uv_connect_t connect_;
  uv_write_t write_;
  uv_shutdown_t shutdown_;
  State state_ = State::kIdle;
  std::string error_;
  std::string request_;
  std::string response_head_;
  std::array<char, 1024> read_buffer_;  // the response head, in as many reads as it takes
  RecordWriter writer_;
  bool started_streaming_ = false;
  std::uint64_t chunks_generated_ = 0;  // on the pacing grid: the next one is due_at(this)
  // Double buffer: one write in flight at a time; chunks due meanwhile wait in staging_.
  std::vector<std::uint8_t> in_flight_;
  std::vector<std::uint8_t> staging_;
  bool write_pending_ = false;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t max_backlog_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t cut_started_ns_ = 0;
  std::uint64_t retry_at_ns_ = 0;
  std::uint32_t retries_this_reconnect_ = 0;
  bool shutdown_sent_ = false;
  bool reconnecting_ = false;
  bool retry_pending_ = false;
  std::uint64_t reconnects_ = 0;
  std::uint64_t put_retries_ = 0;
  std::uint64_t max_reconnect_ns_ = 0;
  std::uint64_t bytes_cut_ = 0;
};

}  // namespace ringcast::bench
