// Framing and join arithmetic. Pure, unit-tested with plain numbers.
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

}  // namespace ringcast::relay
