// A mount's ring and its lanes. The writer (the source's worker) commits and services its own
// lane directly; other lanes get one coalesced commit event each through their worker's inbox
// and read the ring under their own gate slot.
#include "ringcast/relay/stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <optional>

#include "ringcast/relay/viewer_session.h"
#include "ringcast/relay/worker.h"

namespace ringcast::relay {

namespace {
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

Stream::Stream(std::string mount, const RelayConfig& config, std::size_t workers)
    : mount_(std::move(mount)),
      settings_(config.fanout),
      ring_(round_up_to_power_of_two(config.ring_bytes), workers),
      lane_count_(workers),
      lanes_(std::make_unique<StreamLane[]>(workers)) {
  if (settings_.max_lag_bytes == 0 || settings_.max_lag_bytes > ring_.capacity() / 2) {
    settings_.max_lag_bytes = ring_.capacity() / 2;
  }
  settings_.max_write_bytes = std::min(settings_.max_write_bytes, ring_.capacity() / 4);
  settings_.burst_bytes = std::min(settings_.burst_bytes, ring_.capacity() / 2);
}

void Stream::attach_source(std::size_t worker, StreamMetadata metadata) {
  const bool ts = is_mpeg_ts(metadata.content_type);
  {
    std::lock_guard lock(metadata_mutex_);
    metadata_ = std::move(metadata);
  }
  framing_packet_.store(ts ? kTsPacket : 1, std::memory_order_relaxed);
  framing_origin_.store(ring_.head(), std::memory_order_release);  // pairs: acquire in framing()
  framing_locked_ = !ts;  // the first sync byte of the new source fixes the TS origin
  source_connects_.add(1);
  writer_worker_.store(worker, std::memory_order_release);  // pairs: acquire in writer_worker()
  orphaned_since_ms_.store(0, std::memory_order_relaxed);
  has_source_.store(true, std::memory_order_release);  // pairs: acquire in has_source()
}

void Stream::detach_source(std::uint64_t now_ms) {
  orphaned_since_ms_.store(now_ms, std::memory_order_relaxed);
  has_source_.store(false, std::memory_order_release);  // pairs: acquire in has_source()
}

StreamMetadata Stream::metadata() const {
  std::lock_guard lock(metadata_mutex_);
  return metadata_;
}

Framing Stream::framing() const {
  const std::uint64_t origin = framing_origin_.load(std::memory_order_acquire);  // pairs: attach
  return Framing{origin, framing_packet_.load(std::memory_order_relaxed)};
}

std::uint64_t Stream::eviction_threshold() const {
  // A viewer whose kernel has taken nothing of the last 3/4 ring is stalled: closing it now
  // keeps the writer from ever running into its gate.
  const std::uint64_t head = ring_.head();
  const std::uint64_t margin = ring_.capacity() - ring_.capacity() / 4;
  return head > margin ? head - margin : 0;
}

std::span<std::byte> Stream::reserve_for_source(std::size_t wanted, Worker& writer) {
  const std::uint64_t head = ring_.head();
  const std::size_t to_buffer_end = ring_.capacity() - (head & (ring_.capacity() - 1));
  wanted = std::min(wanted, to_buffer_end);
  auto span = ring_.writable_span(wanted);
  if (span.size() == wanted) return span;

  // Short of room: the gates of some lanes hold the writer back.
  const std::uint64_t needed = head + wanted - ring_.capacity();
  const std::size_t own = writer.index();
  if (ring_.gate(own) < needed) refresh_lane_gate(own, needed);
  for (std::size_t worker = 0; worker < lane_count_; ++worker) {
    // One request at a time per lane (acq_rel: pairs with the lane's exchange(false)).
    if (worker != own && ring_.gate(worker) < needed &&
        !lanes_[worker].make_room_pending.exchange(true, std::memory_order_acq_rel)) {
      writer.post_to(worker, LoopEvent{LoopEvent::Kind::make_room, -1, shared_from_this(), needed});
    }
  }
  return ring_.writable_span(wanted);
}

void Stream::commit_from_source(std::size_t n, std::uint64_t now_ms, Worker& writer) {
  ring_.commit(n);
  bytes_in_.add(n);
  last_commit_ms_.store(now_ms, std::memory_order_relaxed);
  if (!framing_locked_) lock_ts_framing();
  const std::size_t own = writer.index();
  for (std::size_t worker = 0; worker < lane_count_; ++worker) {
    StreamLane& lane = lanes_[worker];
    if (lane.viewer_count.load(std::memory_order_relaxed) == 0) continue;
    if (worker == own) {
      on_commit_event(own, writer.delay_ms(), now_ms);
    } else if (!lane.notify_pending.exchange(true, std::memory_order_acq_rel)) {
      // acq_rel: pairs with the lane's exchange(false) before it reads head.
      writer.post_to(worker, LoopEvent{LoopEvent::Kind::commit, -1, shared_from_this(), 0});
    }
  }
}

void Stream::lock_ts_framing() {
  // Find the first sync byte that a second one follows 188 bytes later: a packet boundary.
  const std::uint64_t head = ring_.head();
  const std::uint64_t origin = framing_origin_.load(std::memory_order_relaxed);  // writer's own
  const auto* data = ring_.data();
  const std::size_t mask = ring_.capacity() - 1;
  for (std::uint64_t pos = origin; pos + kTsPacket < head && pos - origin < kTsPacket; ++pos) {
    if (data[pos & mask] == kTsSync && data[(pos + kTsPacket) & mask] == kTsSync) {
      framing_origin_.store(pos, std::memory_order_release);  // pairs: acquire in framing()
      framing_locked_ = true;
      return;
    }
  }
  if (head - origin > 2 * kTsPacket) framing_locked_ = true;  // not TS after all: keep the origin
}

void Stream::add_viewer(std::size_t worker, ViewerSession& viewer) {
  StreamLane& lane = lanes_[worker];
  // The least populated slot, so every step of the wheel writes to about as many viewers.
  std::size_t slot = 0;
  for (std::size_t k = 1; k < lane.slots.size(); ++k) {
    if (lane.slots[k].viewers.size() < lane.slots[slot].viewers.size()) slot = k;
  }
  FlushSlot& flush_slot = lane.slots[slot];
  if (flush_slot.viewers.empty()) flush_slot.serviced_head = ring_.head();
  viewer.set_slot(slot, flush_slot.viewers.size());
  flush_slot.viewers.push_back(&viewer);
  lane.viewer_count.store(lane.viewer_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  lane.joins.add(1);
  const std::uint64_t total = viewer_count();
  std::uint64_t peak = peak_viewers_.load(std::memory_order_relaxed);
  while (total > peak && !peak_viewers_.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
}

void Stream::remove_viewer(std::size_t worker, ViewerSession& viewer) {
  StreamLane& lane = lanes_[worker];
  auto& slot = lane.slots[viewer.slot()].viewers;
  const std::size_t at = viewer.slot_index();
  assert(at < slot.size() && slot[at] == &viewer);
  slot[at] = slot.back();
  slot[at]->set_slot(viewer.slot(), at);
  slot.pop_back();
  lane.viewer_count.store(lane.viewer_count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

std::size_t Stream::viewer_count() const {
  std::size_t total = 0;
  for (std::size_t worker = 0; worker < lane_count_; ++worker) {
    total += lanes_[worker].viewer_count.load(std::memory_order_relaxed);
  }
  return total;
}

std::uint64_t Stream::join_position() const {
  const RingState state = ring_state();
  return relay::join_position(state.head, state.oldest, settings_.burst_bytes, framing());
}

RingState Stream::ring_state() const {
  return RingState{ring_.head(), ring_.tail(), ring_.capacity()};
}

void Stream::on_commit_event(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_ms) {
  if (delay_ms == 0) {
    service_lane(worker, 0, now_ms);
    return;
  }
  refresh_gate_if_due(worker);
  StreamLane& lane = lanes_[worker];
  const std::uint64_t head = ring_.head();
  std::optional<RingState> state;
  for (FlushSlot& slot : lane.slots) {
    if (slot.viewers.empty() || head - slot.serviced_head < settings_.coalesce_bytes) continue;
    if (!state) state = ring_state();
    service_slot(slot, *state, delay_ms, now_ms);
  }
}

void Stream::on_flush_tick(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_us) {
  refresh_gate_if_due(worker);
  StreamLane& lane = lanes_[worker];
  const std::uint64_t now_ms = now_us / 1000;
  if (lane.bytes_waiting && now_ms >= last_commit_ms() + kPartialPacketHoldMs) {
    lane.bytes_waiting = false;
    service_lane(worker, 0, now_ms);  // a quiet source: nothing gains from waiting longer
    return;
  }
  const RingState state = ring_state();
  lane.wheel.advance(now_us, std::uint64_t{delay_ms} * 1000, [&](std::size_t slot) {
    // The slot's turn: whatever its viewers have waiting goes out now.
    service_slot(lane.slots[slot], state, 0, now_ms);
  });
}

void Stream::service_lane(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_ms) {
  refresh_gate_if_due(worker);
  StreamLane& lane = lanes_[worker];
  const RingState state = ring_state();
  for (FlushSlot& slot : lane.slots) service_slot(slot, state, delay_ms, now_ms);
}

void Stream::service_slot(FlushSlot& slot, const RingState& state, std::uint32_t delay_ms,
                          std::uint64_t now_ms) {
  slot.serviced_head = state.head;
  // Backwards: a viewer that closes swaps the last (already serviced) one into its place.
  for (std::size_t i = slot.viewers.size(); i-- > 0;) slot.viewers[i]->service(state, delay_ms, now_ms);
}

void Stream::refresh_gate_if_due(std::size_t worker) {
  if (ring_.head() - lanes_[worker].gate_refresh_head > ring_.capacity() / 4) {
    refresh_lane_gate(worker, eviction_threshold());
  }
}

void Stream::refresh_lane_gate(std::size_t worker, std::uint64_t evict_below) {
  StreamLane& lane = lanes_[worker];
  // Invariant 2: the writer never waits for a viewer. A viewer whose socket has not taken the
  // bytes at `evict_below` is stalled; closing it releases the memory at once (uv_close closes
  // the fd, so libuv never reads the ring for it again).
  for (FlushSlot& slot : lane.slots) {
    for (std::size_t i = slot.viewers.size(); i-- > 0;) {  // backwards: closing swap-removes
      ViewerSession* viewer = slot.viewers[i];
      if (viewer->write_in_flight() && viewer->accepted_position() < evict_below) {
        viewer->drop_stalled();
      }
    }
  }
  std::uint64_t oldest = ringbuf::kNoGate;
  for (const FlushSlot& slot : lane.slots) {
    for (const ViewerSession* viewer : slot.viewers) {
      if (viewer->write_in_flight()) oldest = std::min(oldest, viewer->accepted_position());
    }
  }
  ring_.release(worker, oldest);
  lane.gate_refresh_head = ring_.head();
}

void Stream::sample_rate(std::uint64_t now_ms) {
  const std::uint64_t bytes = bytes_in_.get();
  if (rate_sample_ms_ != 0 && now_ms > rate_sample_ms_) {
    ingest_bps_.store((bytes - rate_sample_bytes_) * 8 * 1000 / (now_ms - rate_sample_ms_),
                      std::memory_order_relaxed);
  }
  rate_sample_ms_ = now_ms;
  rate_sample_bytes_ = bytes;
}

}  // namespace ringcast::relay
