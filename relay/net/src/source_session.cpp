// The broadcaster's receive path: each read lands in the ring's writable span (reserved in
// libuv's alloc callback) and is committed in the read callback, then fanned out.
#include "ringcast/net/source_session.h"

#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringcast/core/source_hold.h"

#include "ringcast/net/connection.h"
#include "ringcast/net/origin_pull.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {
// Large enough that a fast source needs few reads, small against the ring.
constexpr std::size_t kReadBytes = 64 * 1024;
constexpr std::uint64_t kReviewMs = 250;
}  // namespace

SourceSession::SourceSession(Connection& connection, std::shared_ptr<Stream> stream, bool chunked,
                             std::uint32_t icy_metaint)
    : connection_(connection), stream_(std::move(stream)) {
  if (chunked) chunked_.emplace();
  if (icy_metaint != 0) icy_.emplace(icy_metaint);
}

SourceSession::~SourceSession() = default;

void SourceSession::start(std::string_view early_body, std::uint64_t now_ms) {
  attached_ = true;
  last_data_ms_ = now_ms;
  // The one copy on the ingest path: bytes that shared a read with the request head.
  while (!early_body.empty()) {
    auto span = stream_->reserve_for_source(early_body.size(), connection_.worker());
    const std::size_t n = std::min(span.size(), early_body.size());
    if (n == 0) break;  // a brand-new or orphaned mount has room; give up rather than spin
    std::memcpy(span.data(), early_body.data(), n);
    early_body.remove_prefix(n);
    on_received(reinterpret_cast<char*>(span.data()), n, now_ms);
    if (!attached_) return;  // the body ended or was malformed
  }
}

uv_buf_t SourceSession::next_buffer() {
  auto span = stream_->reserve_for_source(kReadBytes, connection_.worker());
  return uv_buf_init(reinterpret_cast<char*>(span.data()), static_cast<unsigned>(span.size()));
}

void SourceSession::on_received(char* at, std::size_t n, std::uint64_t now_ms) {
  last_data_ms_ = now_ms;
  bytes_received_ += n;
  connection_.worker().counters().source_reads.add(1);
  if (!chunked_) {
    commit(at, n);
    return;
  }
  // The framing goes here, in the ring's reserved span: the body is moved over it and only the
  // body is committed, so no viewer ever sees a chunk-size line.
  const ChunkedDecoder::Result result = chunked_->decode(std::span(reinterpret_cast<std::byte*>(at), n));
  if (result.body_bytes > 0) commit(at, result.body_bytes);
  switch (result.status) {
    case ChunkedDecoder::Status::more:
      return;
    case ChunkedDecoder::Status::done:
      spdlog::info("source {} on {} ended its chunked body", connection_.peer(), stream_->mount());
      connection_.close("body ended");
      return;
    case ChunkedDecoder::Status::malformed:
      spdlog::warn("source {} on {}: malformed chunked body ({}): dropped", connection_.peer(),
                   stream_->mount(), chunked_->error());
      connection_.close("malformed chunked body");
      return;
  }
}

void SourceSession::commit(char* at, std::size_t n) {
  if (icy_) {
    // An origin's ICY blocks are removed where they landed, like chunk framing: listeners here
    // get this relay's own blocks (or none), never the origin's.
    const IcyReader::Result result = icy_->decode(std::span(reinterpret_cast<std::byte*>(at), n));
    if (result.metadata) {
      stream_->set_title(PeerText::from(icy_->title()), PeerText::from(icy_->url()), unix_ms());
    }
    n = result.body_bytes;
  }
  if (n > 0) stream_->commit_from_source(n, connection_.worker());
  // Whether to read on demand is looked at again with the reads, while the mount's state is in
  // cache, at most every kReviewMs: a held mount with no listener is read every two budgets.
  if (last_data_ms_ >= next_review_ms_) {
    next_review_ms_ = last_data_ms_ + kReviewMs;
    review_hold();
  }
}

void SourceSession::review_hold() {
  if (!attached_) return;
  Worker& worker = connection_.worker();
  const StreamLane& own = stream_->lane(worker.index());
  SourceHoldInput input;
  input.video = stream_->video_source();
  input.paused = paused_;
  input.viewers_elsewhere = stream_->viewer_count() > own.viewer_count.load(std::memory_order_relaxed);
  input.own_viewers = own.lane.size();
  input.own_period_us = own.lane.period_us();
  input.rate_bytes_per_second = stream_->ingest_bits_per_second() / 8;
  input.latency_budget_ms = stream_->latency_budget_ms();
  const std::size_t wanted = source_hold_bytes(input);
  if (source_hold_changes(hold_bytes_, wanted)) hold(wanted);
}

void SourceSession::hold(std::size_t bytes) {
  const int fd = connection_.fd();
  if (fd < 0) return;
  const int lowat = bytes == 0 ? 1 : static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) != 0) {
    spdlog::debug("source {} on {}: SO_RCVLOWAT {}: {}", connection_.peer(), stream_->mount(), lowat,
                  std::strerror(errno));
    return;  // read as bytes arrive, as before
  }
  const bool was_held = hold_bytes_ != 0;
  hold_bytes_ = bytes;
  if (was_held != (bytes != 0)) {
    spdlog::debug("source {} on {}: {}", connection_.peer(), stream_->mount(),
                  bytes != 0 ? "read on demand" : "read as bytes arrive");
    stream_->hold_source(connection_.worker(), bytes != 0 ? this : nullptr);
  }
  // Released: the kernel reports what it holds at once (the lowered mark), and libuv reads it.
}

void SourceSession::read_now() {
  if (attached_ && !paused_) connection_.read_pending();
}

void SourceSession::read_before_timeout(std::uint64_t now_ms) {
  if (!attached_ || paused_) return;
  // The kernel's clock, not the read's: when the newest of the bytes it holds came.
  std::optional<std::uint64_t> arrived_ms;
  tcp_info info{};
  socklen_t length = sizeof info;
  if (const int fd = connection_.fd(); fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0) {
    arrived_ms = now_ms - std::min<std::uint64_t>(info.tcpi_last_data_recv, now_ms);
  }
  const std::uint64_t before = bytes_received_;
  read_now();
  if (bytes_received_ != before && arrived_ms) last_data_ms_ = *arrived_ms;
}

void SourceSession::release() {
  if (hold_bytes_ != 0) hold(0);
}

void SourceSession::pause() {
  if (paused_) return;
  release();  // not reading at all until there is room
  paused_ = true;
  paused_since_us_ = connection_.worker().now_us();
  connection_.tcp().read_stop();
  connection_.worker().source_paused(*this);
}

void SourceSession::resume() {
  if (!paused_ || !attached_) return;
  paused_ = false;
  stream_->add_source_paused(connection_.worker().now_us() - paused_since_us_);
  last_data_ms_ = monotonic_ms();
  if (const std::error_code error = connection_.restart_reading()) connection_.close(error.message());
}

void SourceSession::detach(std::uint64_t) {
  if (!attached_) return;
  attached_ = false;
  if (hold_bytes_ != 0) {
    hold_bytes_ = 0;  // the socket goes with the connection: only the stream needs telling
    stream_->hold_source(connection_.worker(), nullptr);
  }
  if (paused_) {
    stream_->add_source_paused(connection_.worker().now_us() - paused_since_us_);
    connection_.worker().source_gone(*this);
  }
  connection_.worker().source_detached(*stream_);
  spdlog::info("{} {} left {} after {} bytes; viewers wait for it to return", pull_ ? "origin" : "source",
               connection_.peer(), stream_->mount(), bytes_received_);
  // Last: the pull may start its next attempt at once.
  if (OriginPull* pull = std::exchange(pull_, nullptr)) pull->feed_lost();
}

}  // namespace ringcast::relay
