// Many verifying viewers on one libuv loop: each connects, sends the GET for its mount (viewer
// k watches mount k % M), checks the response head and feeds every stream byte to its
// StreamVerifier, which expects that mount's stream. Reads land in one buffer shared by
// the loop (libuv reads one stream at a time); a viewer keeps at most a partial record. With
// --icy a viewer asks for ICY metadata and its IcyDemuxer takes the blocks out first.
// Churning viewers leave in turn and join again at once as a fresh connection (same slot).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "histogram.h"
#include "options.h"
#include "results.h"
#include "stream_verifier.h"

namespace ringcast::bench {

class ViewerPool {
 public:
  // Viewers [first, first + count) of the run's global index range.
  ViewerPool(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
             std::uint32_t first, std::uint32_t count);
  ~ViewerPool();
  ViewerPool(const ViewerPool&) = delete;
  ViewerPool& operator=(const ViewerPool&) = delete;

  // Opens every viewer whose ramp slot (ramp_start + index / ramp) has come; true when all are.
  bool open_due(std::uint64_t ramp_start_ns, std::uint64_t now_ns);
  void begin_window(std::uint64_t now_ns);
  void end_window(std::uint64_t now_ns);
  // Stalled-class viewers stop reading (uv_read_stop) or resume.
  void set_stall(bool stalled);
  // Closes and reopens the churning viewers whose turn has come by now_ns, in rotation: this
  // process's share of --churn leaves per second, counted from churn_start_ns.
  void churn_due(std::uint64_t churn_start_ns, std::uint64_t now_ns);
  // Closes every handle; `on_closed(arg)` runs once the last close callback has.
  void close_all(void (*on_closed)(void*), void* arg);

  Progress progress() const;
  ProcessResult result() const;

 private:
  struct Viewer;

  void open(Viewer& viewer);
  void on_connect(Viewer& viewer, int status);
  void on_read(Viewer& viewer, ssize_t nread);
  void on_head_bytes(Viewer& viewer, const std::uint8_t*& data, std::size_t& size);
  void stamp_answer(Viewer& viewer);
  void stop_stamping(Viewer& viewer, std::uint64_t received_ns);
  void start_icy(Viewer& viewer, ClassResult& result);
  void on_stream_bytes(Viewer& viewer, std::span<const std::uint8_t> bytes, std::uint64_t now);
  void fail(Viewer& viewer, std::uint32_t ClassResult::*counter);
  void close(Viewer& viewer);
  void on_close(Viewer& viewer);
  void leave(Viewer& viewer);
  // Counts the viewer's current connection if it never verified a record of its stream.
  void check_verified(const Viewer& viewer, ClassResult& result) const;
  ClassResult& class_of(const Viewer& viewer);

  // libuv callbacks
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void connect_cb(uv_connect_t* request, int status);
  static void write_cb(uv_write_t* request, int status);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void close_cb(uv_handle_t* handle);

  uv_loop_t* loop_;
  const Options& options_;
  sockaddr_storage relay_;
  std::vector<std::string> requests_;  // the GET of each mount
  SkipAlignment skips_;                // where the relay may skip: records, or any byte
  std::uint32_t first_;
  std::uint32_t count_;
  std::uint32_t next_to_open_ = 0;
  std::uint32_t open_handles_ = 0;
  bool in_window_ = false;
  bool window_ended_ = false;
  bool stalled_ = false;
  bool closing_all_ = false;
  std::vector<std::uint32_t> churners_;  // indices into viewers_
  std::uint64_t churn_leaves_done_ = 0;
  double churn_per_second_ = 0;  // this process's share
  double window_seconds_ = 0;
  std::uint64_t window_start_ns_ = 0;
  void (*on_closed_)(void*) = nullptr;
  void* on_closed_arg_ = nullptr;
  std::unique_ptr<Viewer[]> viewers_;
  // Counters and histograms per class; per-viewer verifier counts are added at the end.
  ClassResult healthy_;
  ClassResult stalled_class_;
  ClassResult churning_;
  std::vector<std::uint8_t> read_buffer_;
};

}  // namespace ringcast::bench
