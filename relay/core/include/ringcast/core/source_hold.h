// When a source is read: as its bytes arrive, or on demand. A mount whose viewers are written
// once per write period does not need its source read more often than that. Held, the kernel
// keeps the bytes in the socket (SO_RCVLOWAT: it wakes the relay only once that many wait) and
// the writer's loop reads them right before its lane writes (Stream::on_tick) and before a
// viewer joins. Pure: the writer's loop passes in what it knows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringcast::relay {

struct SourceHoldInput {
  bool video = false;               // MPEG-TS: keyframes, HLS segments and skips follow every read
  bool paused = false;              // the ring had no room: not reading at all
  bool viewers_elsewhere = false;   // a lane on another loop has viewers: it hears only of reads
  std::size_t own_viewers = 0;      // the writer's own lane
  std::uint64_t own_period_us = 0;  // its write period (0: every read is written at once)
  std::uint64_t rate_bytes_per_second = 0;  // the source's (0: not measured yet)
  std::uint32_t latency_budget_ms = 1000;
};

// The SO_RCVLOWAT to hold the source with; 0: read it as bytes arrive.
//
// Held only when the writer's own lane is the whole audience and writes on a wheel of at least
// kMinHoldPeriodUs: its ticks read the source, so a viewer gets every byte when it would have
// anyway. The low-water mark is two latency budgets of the source's bytes, within
// [kMinHoldBytes, kMaxHoldBytes]: with viewers the wheel reads first, and with none the kernel
// wakes the relay a few times a minute at most per mount, while the socket's buffer (128 KiB
// and up) stays far from full: a source is never throttled.
std::size_t source_hold_bytes(const SourceHoldInput& input);

inline constexpr std::uint64_t kMinHoldPeriodUs = 20'000;
inline constexpr std::size_t kMinHoldBytes = 1024;
inline constexpr std::size_t kMaxHoldBytes = 32 * 1024;

// Whether a held source's low-water mark moves to `wanted` (0: released): a change under a
// quarter is not worth a system call.
bool source_hold_changes(std::size_t current, std::size_t wanted);

}  // namespace ringcast::relay
