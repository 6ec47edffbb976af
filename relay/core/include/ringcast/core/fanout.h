// The fan-out's settings and the arithmetic it shares with the rest of the relay: packet
// framing, and where a new viewer joins. Pure; the rules themselves live in lane.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringcast::relay {

enum class SlowViewerAction { skip, disconnect };

struct FanoutSettings {
  // A new viewer starts this far behind the live edge; on MPEG-TS video, the furthest back its
  // keyframe join may start. 0: kDefaultBurstBytes, and a quarter of the ring for keyframes.
  std::size_t burst_bytes = 0;
  static constexpr std::size_t kDefaultBurstBytes = 64 * 1024;
  std::uint32_t hls_segment_ms = 2000;       // HLS segments are at least this long (keyframes allowing)
  std::size_t max_write_bytes = 256 * 1024;  // most bytes handed to one write
  // A write() costs 5-9 us here whatever its size, so coalescing aims at writes this large:
  // 16 KiB is 1 s of 128 kbit/s radio and 131 ms of 1 Mbit/s video (docs/benchmarks.md).
  std::size_t coalesce_bytes = 16 * 1024;
  // The longest a byte may wait for company at a full audience (players of radio buffer
  // seconds; at video rates the write target is reached long before). Per mount.
  std::uint32_t latency_budget_ms = 1000;
  std::size_t full_delay_audience = 800;     // viewers on one loop from which both apply in full
  std::size_t max_lag_bytes = 0;             // behind this far: slow (0: half the ring)
  SlowViewerAction slow_action = SlowViewerAction::skip;
};

// Packet framing of a stream: joins and skips land on origin + k * packet_size. For MPEG-TS
// the packet is 188 bytes and origin is where the current source's first sync byte landed.
// [cut_from, origin) is the previous source's last packet, cut short when it left: never sent.
struct Framing {
  std::uint64_t origin = 0;
  std::uint32_t packet_size = 1;
  std::uint64_t cut_from = 0;

  // The highest packet boundary <= pos (pos itself when pos < origin: no framing known there).
  std::uint64_t align_down(std::uint64_t pos) const;
  // The lowest packet boundary >= pos.
  std::uint64_t align_up(std::uint64_t pos) const;
};

// The first position sent to a new viewer: burst_bytes behind head, never below `oldest`
// (the oldest readable position) nor below `framing.origin` (the current source's first byte),
// on a packet boundary.
std::uint64_t join_position(std::uint64_t head, std::uint64_t oldest, std::size_t burst_bytes,
                            const Framing& framing);

}  // namespace ringcast::relay
