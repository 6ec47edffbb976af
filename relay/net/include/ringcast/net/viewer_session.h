// A viewer: its cursor in the stream and its one write in flight. The fan-out's writes happen
// here, as views of the shared ring: try_write first (uv_try_write), a Write request (uv_write)
// for what the kernel left.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "ringcast/core/lane.h"
#include "ringcast/http/response.h"
#include "ringcast/net/lane_viewer.h"
#include "ringcast/uv/tcp.h"

namespace ringcast::relay {

class Connection;
class Stream;
class Worker;

struct IcyTitle;
struct JoinRequest;
struct PsiBlock;
struct SegmentRead;

class ViewerSession final : public LaneViewer {
 public:
  // metaint: the listener asked for ICY metadata (Icy-MetaData: 1), a block after every
  // `metaint` stream bytes; 0: the plain stream.
  // home_mount: the mount it asked for (it may be served a fallback; empty: stream's).
  ViewerSession(Connection& connection, std::shared_ptr<Stream> stream, std::uint32_t metaint = 0,
                std::string home_mount = {});
  ~ViewerSession();

  // Joins the stream (Stream::add_viewer) and sends the response head, saying where a
  // timeshifted viewer really starts, then the join's PAT/PMT prefix, if any, gathered after
  // it, in front of the burst: one write.
  void start(Response response, const JoinRequest& request);
  // An HLS segment instead: the head (Content-Length: prefix and ring bytes), the prefix, the
  // ring bytes [read.from, read.to), then a clean close. False: the segment is no longer
  // servable and nothing was sent.
  bool start_segment(Response response, const SegmentRead& read);
  bool is_segment() const { return segment_; }
  // The lane's actions, applied (Stream::apply).
  // Pins `from`, then uv_try_write of the ring views [from, to), with the metadata block
  // gathered in after `block_after` (0: none); libuv gets what the kernel did not take.
  // `head`: the live edge when the write was decided (for the lag histogram).
  WriteResult write_views(std::uint64_t from, std::uint64_t to, std::uint64_t block_after,
                          std::uint64_t head) override;
  void skipped(std::uint64_t bytes) override;  // counted: the lane skipped it forward this far
  void close_slow(CloseReason reason) override;
  // The stream ended and this viewer has everything: close cleanly.
  void finish() override;
  // Took nothing for --viewer-stall-timeout: disconnect now (the worker's sweep).
  void drop_stalled();
  // The connection is closing: leave the stream; a write in flight is cancelled by libuv.
  void detach();
  // From now on the viewer hears `target`, from a burst behind its live edge, on the same
  // connection, its ICY count going on. A write in flight finishes first (it reads the old
  // ring, which that stream's gate keeps safe until then).
  void move_to(std::shared_ptr<Stream> target);
  const std::string& home_mount() const { return home_mount_; }

  bool write_in_flight() const { return in_flight_; }
  // How long (ms) the kernel has taken none of the in-flight write (0: none in flight).
  std::uint64_t stalled_for(std::uint64_t now_ms);
  // The oldest ring position the in-flight write still references (the kernel took the rest;
  // inserted metadata bytes are counted apart from stream bytes).
  std::uint64_t accepted_position() const override;
  std::uint64_t position() const;
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  Stream& stream() { return *stream_; }

 private:
  void count_sent(std::uint64_t n);
  void count_slow_disconnect();  // in the lane's and the worker's counters
  Worker& worker();
  void on_write_done(std::error_code error);
  void switch_stream();
  // Starts the viewer with the head and prefix (the lead) to go in front of its first write;
  // with no write at once, the lead goes alone.
  void begin();
  std::uint32_t lead_bytes() const;         // the head's and the prefix's
  unsigned gather_lead(uv_buf_t* buffers);  // into buffers; it is no longer pending
  void release_lead();                      // written
  void lead_alone_written();                // the prefix counted as sent, then released
  // The lead without stream bytes. Taken only in part, the rest is in flight and
  // on_lead_written() starts the viewer (paused until then).
  void write_lead_alone();
  void on_lead_written(std::error_code error);

  Connection& connection_;
  std::shared_ptr<Stream> stream_;
  ViewerId id_ = 0;
  bool attached_ = false;
  bool in_flight_ = false;
  GatheredWrite last_write_;           // the last write handed to the kernel or libuv
  std::uint64_t in_flight_bytes_ = 0;  // of its socket bytes, what uv_write still owns
  std::uint32_t metaint_ = 0;
  // The last block this listener was sent: the next block is a single zero byte until the
  // title changes. It also keeps the in-flight write's block alive (one write at a time).
  std::shared_ptr<const IcyTitle> title_sent_;
  std::string home_mount_;
  std::shared_ptr<Stream> pending_move_;  // waits for the write in flight
  // The stream it was last moved away from and where it stopped there: moved back, it starts
  // no earlier than that, so it never hears that stream's bytes twice.
  std::weak_ptr<const Stream> left_stream_;
  std::uint64_t left_position_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t progress_position_ = 0;  // accepted position when progress was last seen
  std::uint64_t progress_ms_ = 0;
  std::string response_head_;               // until written
  std::shared_ptr<const PsiBlock> prefix_;  // sent after the head (held until written)
  bool lead_pending_ = false;               // the head and prefix wait to lead the first write
  bool lead_in_flight_ = false;             // they went alone, and libuv writes their rest
  bool segment_ = false;                    // an HLS segment reader: not counted as a viewer
  uv::Write request_;                       // reused: one write in flight at a time
  // The join's head and prefix (its first write only), two ring parts, one split around a
  // metadata block, the block. libuv queues four without allocating: only a first write the
  // kernel took less than the head of has more left.
  uv_buf_t buffers_[6]{};
};

}  // namespace ringcast::relay
