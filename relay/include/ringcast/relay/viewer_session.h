// A viewer: its cursor in the stream and its one write in flight. The fan-out's writes happen
// here, as views of the shared ring: uv_try_write first, uv_write for what the kernel left.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ringcast/relay/fanout.h"

namespace ringcast::relay {

class Connection;
class Stream;
struct StreamLane;

class ViewerSession {
 public:
  ViewerSession(Connection& connection, std::shared_ptr<Stream> stream);
  ~ViewerSession();

  // Sends the response head and joins the stream at the live edge minus the burst.
  void start(std::string response_head, std::uint64_t now_ms);
  // Decides and, when due, writes the next views of the ring (no-op while a write is in flight).
  void service(const RingState& ring, std::uint32_t delay_ms, std::uint64_t now_ms);
  // The source is gone for good: send what is left, then close cleanly.
  void finish();
  // Stalled with ring memory pinned: disconnect now (called by the stream's writer).
  void drop_stalled();
  // The connection is closing: leave the stream; a write in flight is cancelled by libuv.
  void detach();

  bool write_in_flight() const { return in_flight_; }
  // How long (ms) the kernel has taken none of the in-flight write (0: none in flight).
  std::uint64_t stalled_for(std::uint64_t now_ms);
  // Oldest ring position the in-flight write still references (the kernel took the rest).
  std::uint64_t accepted_position() const;
  std::uint64_t position() const { return cursor_.position; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  Stream& stream() { return *stream_; }

  // Where the stream's lane keeps this viewer: its flush slot and its index in that slot's
  // list (swap-removed).
  std::size_t slot() const { return slot_; }
  std::size_t slot_index() const { return slot_index_; }
  void set_slot(std::size_t slot, std::size_t index) {
    slot_ = static_cast<std::uint32_t>(slot);
    slot_index_ = static_cast<std::uint32_t>(index);
  }

 private:
  // `head`: the live edge when the write was decided (for the lag histogram).
  void write_views(std::uint64_t from, std::uint64_t to, std::uint64_t head);
  void skip_to(std::uint64_t position);
  void count_sent(std::uint64_t n);
  void count_slow_disconnect();
  std::size_t worker_index() const;
  StreamLane& lane();
  void on_write_done(int status);
  void on_head_written(int status);
  bool head_sent() const { return response_head_.empty(); }

  // libuv callbacks
  static void write_done_cb(uv_write_t* request, int status);
  static void head_written_cb(uv_write_t* request, int status);

  Connection& connection_;
  std::shared_ptr<Stream> stream_;
  std::uint32_t slot_ = 0;
  std::uint32_t slot_index_ = 0;
  bool attached_ = false;
  bool in_flight_ = false;
  bool finishing_ = false;
  ViewerCursor cursor_;
  std::uint64_t queued_end_ = 0;      // end of the bytes handed to libuv
  std::uint64_t in_flight_bytes_ = 0;  // of them, what uv_write still owns
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t progress_position_ = 0;  // accepted position when progress was last seen
  std::uint64_t progress_ms_ = 0;
  std::string response_head_;  // until written
  uv_write_t request_{};       // reused: one write in flight at a time
  uv_buf_t buffers_[2]{};
};

}  // namespace ringcast::relay
