// Fan-out decisions. Every function here is pure, so the rules (join, coalesce, skip) are unit
// tested with plain numbers.
#include "ringcast/relay/fanout.h"

#include <algorithm>

namespace ringcast::relay {

std::uint64_t Framing::align_down(std::uint64_t pos) const {
  if (packet_size <= 1 || pos < origin) return pos;
  return origin + (pos - origin) / packet_size * packet_size;
}

std::uint64_t Framing::align_up(std::uint64_t pos) const {
  if (packet_size <= 1) return pos;
  if (pos <= origin) return origin;
  return origin + (pos - origin + packet_size - 1) / packet_size * packet_size;
}

std::uint64_t join_position(std::uint64_t head, std::uint64_t oldest, std::size_t burst_bytes,
                            const Framing& framing) {
  const std::uint64_t wanted = head > burst_bytes ? head - burst_bytes : 0;
  // Round up, so the burst never reaches below `oldest`; at most one packet less than asked.
  const std::uint64_t start = framing.align_up(std::max(wanted, oldest));
  return std::min(start, framing.align_down(head));
}

std::uint32_t effective_delay_ms(const FanoutSettings& settings, std::size_t audience) {
  if (settings.full_delay_audience == 0 || audience >= settings.full_delay_audience) {
    return settings.max_delay_ms;
  }
  return static_cast<std::uint32_t>(std::uint64_t{settings.max_delay_ms} * audience /
                                    settings.full_delay_audience);
}

std::uint32_t loaded_delay_ms(std::uint32_t delay_ms, double busy) {
  const double stretch = std::clamp(busy / kStretchFromBusy, 1.0, kMaxDelayStretch);
  return static_cast<std::uint32_t>(delay_ms * stretch);
}

Decision decide(const FanoutSettings& settings, const ViewerCursor& viewer, const RingState& ring,
                const Framing& framing, std::uint32_t delay_ms, std::uint64_t now_ms, bool partial_ok) {
  const std::size_t max_lag = settings.max_lag_bytes ? settings.max_lag_bytes : ring.capacity / 2;
  if (viewer.position < ring.oldest || ring.head - viewer.position > max_lag) {
    // Invariant 1 is kept by never reading below `oldest`; invariant 2 by never waiting here.
    if (settings.slow_action == SlowViewerAction::disconnect) return {Action::disconnect, 0, 0};
    // A viewer left inside a packet first gets the rest of it, so the skip never splices two
    // packets into one (possible while the rest is readable: the lag limit is half the ring).
    const std::uint64_t packet_end = framing.align_up(viewer.position);
    if (packet_end != viewer.position && viewer.position >= ring.oldest && packet_end <= ring.head) {
      return {Action::write, viewer.position, packet_end};
    }
    const std::uint64_t live_edge = framing.align_down(ring.head);
    return {Action::skip, viewer.position, std::max(live_edge, ring.oldest)};
  }
  const std::uint64_t pending = ring.head - viewer.position;
  if (pending == 0) return {};
  const bool due = pending >= settings.coalesce_bytes || delay_ms == 0 ||
                   (viewer.waiting_since != 0 && now_ms - viewer.waiting_since >= delay_ms);
  if (!due) return {};
  const std::uint64_t capped = viewer.position + std::min<std::uint64_t>(pending, settings.max_write_bytes);
  std::uint64_t end = capped;
  if (!partial_ok) {
    end = framing.align_down(capped);
    if (end <= viewer.position) {
      if (capped == ring.head) return {};  // less than the rest of a packet: wait for it
      end = capped;  // --max-write-bytes is below a packet: whole packets cannot be kept
    }
  }
  return {Action::write, viewer.position, end};
}

}  // namespace ringcast::relay
