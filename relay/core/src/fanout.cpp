// Framing and join arithmetic. Pure, unit-tested with plain numbers.
#include "ringcast/core/fanout.h"

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
  // Invariant 1: a burst never reaches back into an earlier source (below the current one's
  // origin), whatever the framing; it is shorter until the new source has sent enough. Round
  // up, so it never reaches below `oldest` either; at most one packet less than asked.
  const std::uint64_t start = framing.align_up(std::max({wanted, oldest, framing.origin}));
  return std::min(start, framing.align_down(head));
}

}  // namespace ringcast::relay
