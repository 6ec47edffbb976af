// The viewer's write path: the lane's write actions become uv_try_write, then uv_write for
// what the kernel left, of views of the shared ring. Nothing is copied per viewer, and
// nothing is allocated per chunk; the decisions are the lane's (lane.h).
#include "ringcast/net/viewer_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "ringcast/net/connection.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {
// The kernel took `sent` bytes of a gathered write, less than all: the index of the first buffer
// with bytes left, trimmed to them.
unsigned drop_sent(uv_buf_t* buffers, std::uint64_t sent) {
  unsigned first = 0;
  while (sent >= buffers[first].len) sent -= buffers[first++].len;
  buffers[first].base += sent;
  buffers[first].len -= static_cast<unsigned>(sent);
  return first;
}
}  // namespace

ViewerSession::ViewerSession(Connection& connection, std::shared_ptr<Stream> stream,
                             std::uint32_t metaint, std::string home_mount)
    : connection_(connection), stream_(std::move(stream)), metaint_(metaint),
      home_mount_(home_mount.empty() ? stream_->mount() : std::move(home_mount)) {
}

ViewerSession::~ViewerSession() { assert(!attached_); }

Worker& ViewerSession::worker() { return connection_.worker(); }

void ViewerSession::start(Response response, const JoinRequest& request) {
  const JoinPoint join = stream_->add_viewer(worker(), *this, request);
  id_ = join.id;
  attached_ = true;
  worker().viewer_joined();
  if (request.rewind_ms) {
    // Where it really starts: the keyframe at or before the time asked, as far back as the
    // ring holds (0: not a video stream, so it starts live).
    char behind[32];
    std::snprintf(behind, sizeof behind, "%.3f", join.keyframe ? static_cast<double>(join.behind_ms) / 1000.0 : 0.0);
    response.header("X-Timeshift", behind);
  }
  prefix_ = join.prefix;
  response_head_ = render_head(response);
  begin();
}

bool ViewerSession::start_segment(Response response, const SegmentRead& read) {
  segment_ = true;
  const auto id = stream_->add_segment_reader(worker(), *this, read);
  if (!id) return false;
  id_ = *id;
  attached_ = true;
  prefix_ = read.prefix;
  response.content_length = (prefix_ ? prefix_->size : 0) + (read.to - read.from);
  response_head_ = render_head(response);
  begin();
  return true;
}

void ViewerSession::begin() {
  // One write for a join, not two: the head and prefix lead the burst's write (write_views).
  lead_pending_ = true;
  stream_->start_viewer(worker(), id_);
  if (!attached_ || !lead_pending_) return;
  // Nothing to write yet (the stream has no bytes, or the join is at the live edge): the head
  // goes now, on its own. Should the kernel take only part of it, the viewer waits for the rest.
  write_lead_alone();
  if (attached_ && lead_in_flight_) stream_->pause_viewer(worker(), id_);
}

unsigned ViewerSession::gather_lead(uv_buf_t* buffers) {
  lead_pending_ = false;
  unsigned count = 0;
  buffers[count++] = uv_buf_init(response_head_.data(), static_cast<unsigned>(response_head_.size()));
  if (prefix_) {
    // The shared tables, never copied: prefix_ keeps them alive until the write completes.
    buffers[count++] = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(prefix_->bytes.data())),
                                   static_cast<unsigned>(prefix_->size));
  }
  return count;
}

std::uint32_t ViewerSession::lead_bytes() const {
  return static_cast<std::uint32_t>(response_head_.size() + (prefix_ ? prefix_->size : 0));
}

void ViewerSession::lead_alone_written() {
  if (prefix_) count_sent(prefix_->size);
  release_lead();
}

void ViewerSession::release_lead() {
  response_head_.clear();
  response_head_.shrink_to_fit();
  prefix_.reset();
}

void ViewerSession::write_lead_alone() {
  const unsigned count = gather_lead(buffers_);
  const std::size_t total = lead_bytes();
  const uv::Tcp::Written written = connection_.tcp().try_write(buffers_, count);
  if (written.error) {
    connection_.close(written.error.message());
    return;
  }
  if (written.bytes == total) {
    lead_alone_written();
    return;
  }
  const unsigned first = drop_sent(buffers_, written.bytes);
  if (const std::error_code error = request_.start<&ViewerSession::on_lead_written>(
          connection_.tcp(), buffers_ + first, count - first, this)) {
    connection_.close(error.message());
    return;
  }
  lead_in_flight_ = true;
}

void ViewerSession::on_lead_written(std::error_code error) {
  lead_in_flight_ = false;
  if (!attached_) return;
  if (error) {
    connection_.close(error.message());
    return;
  }
  lead_alone_written();
  stream_->start_viewer(worker(), id_);
}

namespace {
// What a listener gets at a block point while the title is unchanged: a zero length byte.
char kNoChange[1] = {0};
}  // namespace

WriteResult ViewerSession::write_views(std::uint64_t from, std::uint64_t to,
                                       std::uint64_t block_after, std::uint64_t head) {
  assert(!in_flight_);
  auto& ring = stream_->ring();
  // Invariant 1: pin before reading. The ring may be written on another thread; once the gate
  // covers `from`, the writer cannot reach it, and a failed pin means it already has.
  if (!stream_->pin(worker().index(), from)) return {WriteResult::Outcome::lapped, from};
  const ringbuf::Views views = ring.pinned_views(from, to);
  char* const base = const_cast<char*>(reinterpret_cast<const char*>(ring.data()));
  // The block: shared by every listener of the title, never copied (see title_sent_).
  uv_buf_t block = uv_buf_init(nullptr, 0);
  if (block_after != 0) {
    std::shared_ptr<const IcyTitle> title = stream_->title();
    if (title && title != title_sent_) {
      title_sent_ = std::move(title);
      block = uv_buf_init(const_cast<char*>(title_sent_->block.data()),
                          static_cast<unsigned>(title_sent_->block.size()));
    } else {
      block = uv_buf_init(kNoChange, 1);
    }
  }
  // Gather: the join's head and prefix first (its first write only), then the ring views in
  // order, the block between the bytes before and after block_after. libuv takes non-const
  // bases but only reads them for writes.
  std::uint64_t head_bytes = 0;  // not counted as sent: not stream
  std::uint32_t lead = 0;
  unsigned count = 0;
  if (lead_pending_) {
    head_bytes = response_head_.size();
    lead = lead_bytes();
    count = gather_lead(buffers_);
  }
  const GatheredWrite write{from, to, block_after, static_cast<std::uint32_t>(block.len), lead};
  std::uint64_t position = from;
  for (std::size_t i = 0; i < views.count; ++i) {
    const ringbuf::View& view = views.parts[i];
    std::uint64_t offset = view.offset;
    std::uint64_t length = view.length;
    if (block.len != 0 && block_after >= position && block_after <= position + length) {
      const std::uint64_t before = block_after - position;
      if (before > 0) buffers_[count++] = uv_buf_init(base + offset, static_cast<unsigned>(before));
      buffers_[count++] = block;
      block.len = 0;  // placed
      offset += before;
      length -= before;
      position += before;
    }
    if (length > 0) buffers_[count++] = uv_buf_init(base + offset, static_cast<unsigned>(length));
    position += length;
  }
  assert(block.len == 0);  // placed: block_after lies in [from, to]
  const std::uint64_t total = write.socket_bytes();
  WorkerCounters& counters = worker().counters();
  counters.write_batch_bytes.observe(to - from, kWriteBatchBounds);
  counters.viewer_lag_bytes.observe(head - from, kViewerLagBounds);

  const uv::Tcp::Written written = connection_.tcp().try_write(buffers_, count);
  if (written.error) {
    connection_.close(written.error.message());
    return {WriteResult::Outcome::closed, from};
  }
  const std::uint64_t sent = written.bytes;
  const std::uint64_t head_sent = std::min(sent, head_bytes);
  count_sent(sent - head_sent);
  last_write_ = write;
  if (sent == total) {
    if (lead != 0) release_lead();
    return {WriteResult::Outcome::written, to, true};
  }

  // The kernel took part: hand libuv the rest as views of the ring, pinned until written.
  const unsigned first = drop_sent(buffers_, sent);
  if (const std::error_code error = request_.start<&ViewerSession::on_write_done>(
          connection_.tcp(), buffers_ + first, count - first, this)) {
    connection_.close(error.message());
    return {WriteResult::Outcome::closed, from};
  }
  in_flight_ = true;
  in_flight_bytes_ = total - sent - (head_bytes - head_sent);
  return {WriteResult::Outcome::written, write.stream_position_after(sent), false};
}

void ViewerSession::on_write_done(std::error_code error) {
  in_flight_ = false;
  if (!attached_) return;  // closed meanwhile: UV_ECANCELED, nothing more to do
  if (error) {
    connection_.close(error.message());
    return;
  }
  count_sent(in_flight_bytes_);
  in_flight_bytes_ = 0;
  if (last_write_.lead_bytes != 0) release_lead();
  if (pending_move_) {
    switch_stream();
    return;
  }
  stream_->viewer_write_done(worker(), id_);
}

void ViewerSession::move_to(std::shared_ptr<Stream> target) {
  if (!attached_ || segment_ || target == stream_) return;
  pending_move_ = std::move(target);
  if (!in_flight_) switch_stream();
}

void ViewerSession::switch_stream() {
  std::shared_ptr<Stream> target = std::move(pending_move_);
  const std::uint32_t until_block = metaint_ != 0 ? stream_->viewer_until_block(worker().index(), id_) : 0;
  spdlog::info("viewer {} moves from {} to {}", connection_.peer(), stream_->mount(), target->mount());
  const std::uint64_t stopped_at = stream_->viewer_position(worker().index(), id_);
  stream_->remove_viewer(worker(), id_);
  JoinRequest request;
  request.metaint = metaint_;
  request.until_block = until_block;
  request.moved = true;
  if (left_stream_.lock() == target) request.not_before = left_position_;
  left_stream_ = stream_;
  left_position_ = stopped_at;
  stream_ = std::move(target);
  id_ = stream_->add_viewer(worker(), *this, request).id;
  worker().counters().viewers_moved.add(1);
  // While the response head is still going out on its own, its callback starts the viewer.
  if (!lead_in_flight_) stream_->start_viewer(worker(), id_);
}

void ViewerSession::skipped(std::uint64_t bytes) {
  StreamLane& lane = stream_->lane(worker().index());
  lane.skips.add(1);
  lane.skipped_bytes.add(bytes);
  worker().counters().skips.add(1);
  spdlog::debug("viewer {} on {} skipped {} bytes to the live edge", connection_.peer(),
                stream_->mount(), bytes);
}

void ViewerSession::count_slow_disconnect() {
  stream_->lane(worker().index()).slow_disconnects.add(1);
  worker().counters().slow_disconnects.add(1);
}

void ViewerSession::close_slow(CloseReason reason) {
  count_slow_disconnect();
  if (reason == CloseReason::slow) {
    spdlog::info("viewer {} on {} too slow: disconnected", connection_.peer(), stream_->mount());
    connection_.close("slow viewer");
  } else {
    spdlog::info("viewer {} on {} stalled past the ring: disconnected", connection_.peer(),
                 stream_->mount());
    connection_.close("stalled viewer");
  }
}

std::uint64_t ViewerSession::accepted_position() const {
  if (!in_flight_) return last_write_.to;
  return last_write_.stream_position_after(last_write_.socket_bytes() - connection_.tcp().write_queue_size());
}

std::uint64_t ViewerSession::position() const {
  return attached_ ? stream_->viewer_position(connection_.worker().index(), id_) : 0;
}

std::uint64_t ViewerSession::stalled_for(std::uint64_t now_ms) {
  if (!in_flight_) {
    progress_ms_ = 0;
    return 0;
  }
  const std::uint64_t accepted = accepted_position();
  if (progress_ms_ == 0 || accepted != progress_position_) {
    progress_position_ = accepted;
    progress_ms_ = now_ms;
  }
  return now_ms - progress_ms_;
}

void ViewerSession::finish() {
  // Finished at its start (an ended stream, an empty range): the head still goes first.
  if (lead_pending_) write_lead_alone();
  connection_.shutdown_then_close(segment_ ? "segment sent" : "stream ended");
}

void ViewerSession::drop_stalled() {
  count_slow_disconnect();
  connection_.close("stalled viewer");
}

void ViewerSession::detach() {
  if (!attached_) return;
  attached_ = false;
  if (segment_) {
    stream_->remove_segment_reader(worker(), id_);
    return;
  }
  stream_->remove_viewer(worker(), id_);
  worker().viewer_left();
}

void ViewerSession::count_sent(std::uint64_t n) {
  bytes_sent_ += n;
  stream_->lane(worker().index()).bytes_out.add(n);
  worker().counters().bytes_out.add(n);
}

}  // namespace ringcast::relay
