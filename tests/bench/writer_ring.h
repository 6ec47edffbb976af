// What limit mode's and bare mode's writers share: the generated stream's ring, and the
// answer every viewer gets before it.
#pragma once

#include <cstdint>

#include "payload.h"

namespace ringcast::bench {

// Positions are absolute byte counts of the generated stream; only the index wraps.
inline constexpr std::uint64_t kWriterRingBytes = 8u << 20;
inline constexpr std::uint64_t kWriterRingMask = kWriterRingBytes - 1;
static_assert((kWriterRingBytes & kWriterRingMask) == 0, "ring capacity is a power of two");
inline constexpr char kWriterResponseHead[] =
    "HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-cache\r\n\r\n";

inline std::uint64_t record_aligned(std::uint64_t position) {
  return position - position % kRecordSize;
}

}  // namespace ringcast::bench
