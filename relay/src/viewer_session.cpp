// The viewer's write path. A viewer has at most one write in flight; whatever the source
// commits meanwhile goes out in the next write, batched. Writes reference ring memory only:
// nothing is copied per viewer, and nothing is allocated per chunk.
#include "ringcast/relay/viewer_session.h"

#include <spdlog/spdlog.h>

#include <cassert>

#include "ringcast/relay/connection.h"
#include "ringcast/relay/relay.h"
#include "ringcast/relay/worker.h"
#include "ringcast/relay/stream.h"

namespace ringcast::relay {

ViewerSession::ViewerSession(Connection& connection, std::shared_ptr<Stream> stream)
    : connection_(connection), stream_(std::move(stream)) {
  request_.data = this;
}

ViewerSession::~ViewerSession() { assert(!attached_); }

void ViewerSession::start(std::string response_head, std::uint64_t now_ms) {
  cursor_.position = stream_->join_position();
  stream_->add_viewer(worker_index(), *this);
  attached_ = true;
  connection_.worker().viewer_joined(stream_);

  response_head_ = std::move(response_head);
  uv_buf_t buffer = uv_buf_init(response_head_.data(), static_cast<unsigned>(response_head_.size()));
  int written = uv_try_write(connection_.stream(), &buffer, 1);
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    connection_.close(uv_strerror(written));
    return;
  }
  if (static_cast<std::size_t>(written) == response_head_.size()) {
    response_head_.clear();
    response_head_.shrink_to_fit();
    service(stream_->ring_state(), 0, now_ms);  // the burst goes out at once
    return;
  }
  buffer.base += written;
  buffer.len -= static_cast<unsigned>(written);
  const int rc = uv_write(&request_, connection_.stream(), &buffer, 1, head_written_cb);
  if (rc != 0) connection_.close(uv_strerror(rc));
}

void ViewerSession::on_head_written(int status) {
  if (!attached_) return;
  if (status < 0) {
    connection_.close(uv_strerror(status));
    return;
  }
  response_head_.clear();
  response_head_.shrink_to_fit();
  service(stream_->ring_state(), 0, monotonic_ms());
}

void ViewerSession::service(const RingState& ring, std::uint32_t delay_ms, std::uint64_t now_ms) {
  if (finishing_) delay_ms = 0;  // the stream has ended: nothing more will join these bytes
  const bool partial_ok =
      finishing_ || now_ms >= stream_->last_commit_ms() + kPartialPacketHoldMs;
  // Each round writes at most max_write_bytes; a viewer with a backlog keeps going while the
  // kernel takes whole writes. Bounded: the lag limit is half the ring.
  while (attached_ && !in_flight_ && head_sent()) {
    if (cursor_.waiting_since == 0 && ring.head > cursor_.position) {
      cursor_.waiting_since = now_ms;
    }
    const Decision decision =
        decide(stream_->settings(), cursor_, ring, stream_->framing(), delay_ms, now_ms, partial_ok);
    switch (decision.action) {
      case Action::idle:
        // Bytes still waiting go out at the viewer's flush slot, or when the source goes quiet
        // (Stream::on_flush_tick).
        if (ring.head > cursor_.position) {
          lane().bytes_waiting = true;
        } else if (finishing_) {
          connection_.shutdown_then_close("stream ended");
        }
        return;
      case Action::skip:
        skip_to(decision.to);
        return;
      case Action::disconnect:
        count_slow_disconnect();
        spdlog::info("viewer {} on {} too slow: disconnected", connection_.peer(), stream_->mount());
        connection_.close("slow viewer");
        return;
      case Action::write:
        write_views(decision.from, decision.to, ring.head);
        break;
    }
  }
}

void ViewerSession::count_slow_disconnect() {
  lane().slow_disconnects.add(1);
  connection_.worker().counters().slow_disconnects.add(1);
}

void ViewerSession::skip_to(std::uint64_t position) {
  StreamLane& lane = this->lane();
  lane.skips.add(1);
  connection_.worker().counters().skips.add(1);
  lane.skipped_bytes.add(position - cursor_.position);
  spdlog::debug("viewer {} on {} skipped {} bytes to the live edge", connection_.peer(),
                stream_->mount(), position - cursor_.position);
  cursor_.position = position;
  cursor_.waiting_since = 0;
}

void ViewerSession::write_views(std::uint64_t from, std::uint64_t to, std::uint64_t head) {
  auto& ring = stream_->ring();
  // Invariant 1: pin before reading. The ring may be written on another thread; once the gate
  // covers `from`, the writer cannot reach it, and a failed pin means it already has.
  if (!stream_->pin(worker_index(), from)) {
    const RingState state = stream_->ring_state();
    skip_to(std::max(stream_->framing().align_down(state.head), state.oldest));
    return;
  }
  const ringbuf::Views views = ring.pinned_views(from, to);
  for (std::size_t i = 0; i < views.count; ++i) {
    const ringbuf::View& view = views.parts[i];
    // libuv takes non-const bases but only reads them for writes.
    buffers_[i] = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(ring.data())) + view.offset,
                              static_cast<unsigned>(view.length));
  }
  unsigned count = static_cast<unsigned>(views.count);
  const std::uint64_t total = to - from;
  WorkerCounters& counters = connection_.worker().counters();
  counters.write_batch_bytes.observe(total, kWriteBatchBounds);
  counters.viewer_lag_bytes.observe(head - from, kViewerLagBounds);

  int written = uv_try_write(connection_.stream(), buffers_, count);
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    connection_.close(uv_strerror(written));
    return;
  }
  const auto sent = static_cast<std::uint64_t>(written);
  count_sent(sent);
  cursor_.position = to;
  cursor_.waiting_since = 0;
  if (sent == total) return;

  // The kernel took part: hand libuv the rest as views of the ring, pinned until written.
  std::uint64_t skip = sent;
  unsigned first = 0;
  while (skip >= buffers_[first].len) skip -= buffers_[first++].len;
  buffers_[first].base += skip;
  buffers_[first].len -= static_cast<unsigned>(skip);
  const int rc = uv_write(&request_, connection_.stream(), buffers_ + first, count - first,
                          write_done_cb);
  if (rc != 0) {
    connection_.close(uv_strerror(rc));
    return;
  }
  in_flight_ = true;
  queued_end_ = to;
  in_flight_bytes_ = total - sent;
}

void ViewerSession::on_write_done(int status) {
  in_flight_ = false;
  if (!attached_) return;  // closed meanwhile: UV_ECANCELED, nothing more to do
  if (status < 0) {
    connection_.close(uv_strerror(status));
    return;
  }
  count_sent(in_flight_bytes_);
  in_flight_bytes_ = 0;
  // Whatever arrived while the write was in flight goes out now, in one write.
  service(stream_->ring_state(), 0, monotonic_ms());
}

std::uint64_t ViewerSession::accepted_position() const {
  assert(in_flight_);
  return queued_end_ - connection_.tcp().write_queue_size;
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
  finishing_ = true;
  if (!in_flight_ && head_sent()) service(stream_->ring_state(), 0, monotonic_ms());
}

void ViewerSession::drop_stalled() {
  count_slow_disconnect();
  spdlog::info("viewer {} on {} stalled past the ring: disconnected", connection_.peer(),
               stream_->mount());
  connection_.close("stalled viewer");
}

void ViewerSession::detach() {
  if (!attached_) return;
  attached_ = false;
  stream_->remove_viewer(worker_index(), *this);
  connection_.worker().viewer_left(stream_);
}

std::size_t ViewerSession::worker_index() const { return connection_.worker().index(); }

StreamLane& ViewerSession::lane() { return stream_->lane(worker_index()); }

void ViewerSession::count_sent(std::uint64_t n) {
  bytes_sent_ += n;
  lane().bytes_out.add(n);
  connection_.worker().counters().bytes_out.add(n);
}

// libuv callbacks

void ViewerSession::write_done_cb(uv_write_t* request, int status) {
  static_cast<ViewerSession*>(request->data)->on_write_done(status);
}

void ViewerSession::head_written_cb(uv_write_t* request, int status) {
  static_cast<ViewerSession*>(request->data)->on_head_written(status);
}

}  // namespace ringcast::relay
