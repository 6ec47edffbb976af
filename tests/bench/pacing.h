// Chunk pacing on a fixed grid: chunk n is due at origin + n * interval, where the interval is
// chunk * 8 / rate seconds. Computed exactly in integers, so "how many are due now" and "when is
// the next one due" always agree (a scheduler woken at due_at(n) finds chunk n due). Pure code.
#pragma once

#include <cstdint>

namespace ringcast::bench {

__extension__ typedef unsigned __int128 Wide;  // ns * bits/s overflows 64 bits after 3 minutes

struct Pacing {
  std::uint64_t origin_ns = 0;
  std::uint64_t rate_bps = 8000;
  std::uint64_t chunk_bytes = 1;

  // Chunks due by now_ns: the first at the origin, one more every interval.
  std::uint64_t due_by(std::uint64_t now_ns) const {
    if (now_ns < origin_ns) return 0;
    return static_cast<std::uint64_t>(Wide{now_ns - origin_ns} * rate_bps / bits_ns()) + 1;
  }
  // When chunk n (counted from 0) is due: the first ns at which due_by() exceeds n.
  std::uint64_t due_at(std::uint64_t n) const {
    return origin_ns + static_cast<std::uint64_t>((Wide{n} * bits_ns() + rate_bps - 1) / rate_bps);
  }
  // One interval in ns (rounded down): the period of the grid.
  std::uint64_t interval_ns() const { return static_cast<std::uint64_t>(bits_ns() / rate_bps); }

 private:
  Wide bits_ns() const { return Wide{chunk_bytes} * 8 * 1'000'000'000u; }
};

}  // namespace ringcast::bench
