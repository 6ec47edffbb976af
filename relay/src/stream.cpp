// A mount's ring and its fan-out loop. The writer (source) and the viewers share one event
// loop here, so the ring's gate slot 0 is this loop's: the oldest byte an in-flight write of
// any viewer still references.
#include "ringcast/relay/stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <limits>

#include "ringcast/relay/viewer_session.h"

namespace ringcast::relay {

namespace {
constexpr std::size_t kLoopGate = 0;
constexpr std::uint32_t kTsPacket = 188;
constexpr std::byte kTsSync{0x47};

std::size_t round_up_to_power_of_two(std::size_t n) {
  std::size_t p = 4096;
  while (p < n) p <<= 1;
  return p;
}

bool is_mpeg_ts(std::string_view content_type) {
  return content_type == "video/mp2t" || content_type == "video/MP2T" ||
         content_type == "video/mpegts";
}
}  // namespace

Stream::Stream(std::string mount, const RelayConfig& config)
    : mount_(std::move(mount)),
      settings_(config.fanout),
      ring_(round_up_to_power_of_two(config.ring_bytes)) {
  if (settings_.max_lag_bytes == 0 || settings_.max_lag_bytes > ring_.capacity() / 2) {
    settings_.max_lag_bytes = ring_.capacity() / 2;
  }
  settings_.max_write_bytes = std::min(settings_.max_write_bytes, ring_.capacity() / 4);
  settings_.burst_bytes = std::min(settings_.burst_bytes, ring_.capacity() / 2);
}

void Stream::attach_source(std::string content_type,
                           std::vector<std::pair<std::string, std::string>> ice_headers) {
  content_type_ = std::move(content_type);
  ice_headers_ = std::move(ice_headers);
  has_source_ = true;
  orphaned_since_ms_ = 0;
  ++counters_.source_connects;
  const bool ts = is_mpeg_ts(content_type_);
  framing_ = Framing{ring_.head(), ts ? kTsPacket : 1};
  framing_locked_ = !ts;  // the first sync byte of the new source fixes the TS origin
}

void Stream::detach_source(std::uint64_t now_ms) {
  has_source_ = false;
  orphaned_since_ms_ = now_ms;
}

std::span<std::byte> Stream::reserve_for_source(std::size_t wanted) {
  const std::uint64_t head = ring_.head();
  const std::size_t to_buffer_end = ring_.capacity() - (head & (ring_.capacity() - 1));
  wanted = std::min(wanted, to_buffer_end);
  auto span = ring_.writable_span(wanted);
  if (span.size() < wanted) {
    refresh_gate();
    span = ring_.writable_span(wanted);
  }
  if (span.size() < wanted) {
    evict_pinning_viewers(head + wanted - ring_.capacity());
    span = ring_.writable_span(wanted);
  }
  assert(span.size() == wanted);
  return span;
}

void Stream::commit_from_source(std::size_t n, std::uint64_t now_ms) {
  ring_.commit(n);
  counters_.bytes_in += n;
  if (!framing_locked_) lock_ts_framing();
  const std::uint64_t head = ring_.head();
  if (head - gate_refresh_head_ > ring_.capacity() / 2) refresh_gate();
  if (delay_ms() == 0 || head - serviced_head_ >= settings_.coalesce_bytes) {
    service_viewers(now_ms);
  }
}

void Stream::lock_ts_framing() {
  // Find the first sync byte that a second one follows 188 bytes later: a packet boundary.
  const std::uint64_t head = ring_.head();
  for (std::uint64_t pos = framing_.origin; pos + kTsPacket < head; ++pos) {
    if (pos - framing_.origin >= kTsPacket) break;
    const auto* data = ring_.data();
    const std::size_t mask = ring_.capacity() - 1;
    if (data[pos & mask] == kTsSync && data[(pos + kTsPacket) & mask] == kTsSync) {
      framing_.origin = pos;
      framing_locked_ = true;
      return;
    }
  }
  if (head - framing_.origin > 2 * kTsPacket) framing_locked_ = true;  // not TS after all: keep
}

void Stream::add_viewer(ViewerSession& viewer) {
  viewer.set_stream_index(viewers_.size());
  viewers_.push_back(&viewer);
  ++counters_.joins;
  counters_.peak_viewers = std::max<std::uint64_t>(counters_.peak_viewers, viewers_.size());
}

void Stream::remove_viewer(ViewerSession& viewer) {
  const std::size_t index = viewer.stream_index();
  assert(index < viewers_.size() && viewers_[index] == &viewer);
  viewers_[index] = viewers_.back();
  viewers_[index]->set_stream_index(index);
  viewers_.pop_back();
}

std::uint64_t Stream::join_position() const {
  const RingState state = ring_state();
  return relay::join_position(state.head, state.oldest, settings_.burst_bytes, framing_);
}

RingState Stream::ring_state() const {
  return RingState{ring_.head(), ring_.tail(), ring_.capacity()};
}

std::uint32_t Stream::delay_ms() const { return effective_delay_ms(settings_, audience_); }

void Stream::service_viewers(std::uint64_t now_ms) {
  serviced_head_ = ring_.head();
  earliest_wait_ms_ = 0;
  const RingState state = ring_state();
  const std::uint32_t delay = delay_ms();
  // Backwards: a viewer that closes swaps the last (already serviced) one into its place.
  for (std::size_t i = viewers_.size(); i-- > 0;) {
    viewers_[i]->service(state, delay, now_ms);
  }
}

void Stream::on_flush_tick(std::uint64_t now_ms) {
  if (earliest_wait_ms_ != 0 && now_ms - earliest_wait_ms_ >= delay_ms()) service_viewers(now_ms);
}

void Stream::note_waiting(std::uint64_t since_ms) {
  if (earliest_wait_ms_ == 0 || since_ms < earliest_wait_ms_) earliest_wait_ms_ = since_ms;
}

void Stream::pin_in_flight(std::uint64_t pos) {
  // Same thread as the writer: the position was checked against tail() just before, so the
  // pin cannot fail. (Readers on other loops must handle a failed pin as a lap.)
  [[maybe_unused]] const bool pinned = ring_.pin(kLoopGate, pos);
  assert(pinned);
}

void Stream::refresh_gate() {
  std::uint64_t oldest = ringbuf::kNoGate;
  for (const ViewerSession* viewer : viewers_) {
    if (viewer->write_in_flight()) oldest = std::min(oldest, viewer->accepted_position());
  }
  ring_.release(kLoopGate, oldest);
  gate_refresh_head_ = ring_.head();
}

void Stream::evict_pinning_viewers(std::uint64_t needed_pos) {
  // Invariant 2: the writer never waits. A viewer whose socket has not taken the bytes at
  // `needed_pos` in a whole ring's time is stalled; closing it releases the memory at once.
  for (std::size_t i = viewers_.size(); i-- > 0;) {
    ViewerSession* viewer = viewers_[i];
    if (viewer->write_in_flight() && viewer->accepted_position() < needed_pos) {
      ++counters_.slow_disconnects;
      viewer->drop_stalled();
    }
  }
  refresh_gate();
}

void Stream::sample_rate(std::uint64_t now_ms) {
  if (rate_sample_ms_ != 0 && now_ms > rate_sample_ms_) {
    const double seconds = static_cast<double>(now_ms - rate_sample_ms_) / 1000.0;
    ingest_bps_ = static_cast<double>(counters_.bytes_in - rate_sample_bytes_) * 8.0 / seconds;
  }
  rate_sample_ms_ = now_ms;
  rate_sample_bytes_ = counters_.bytes_in;
}

}  // namespace ringcast::relay
