// The fan-out scheduler's decisions: where a viewer joins, when it is written to, when it is
// skipped or dropped. Pure functions of positions and time; the I/O lives in viewer_session.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringcast::relay {

enum class SlowViewerAction { skip, disconnect };

struct FanoutSettings {
  std::size_t burst_bytes = 64 * 1024;       // a new viewer starts this far behind the live edge
  std::size_t max_write_bytes = 256 * 1024;  // most bytes handed to one write
  std::size_t coalesce_bytes = 16 * 1024;    // pending this much: write at once
  // A write() costs 5-9 us whatever its size: at 1,000 viewers of 1 Mbit/s, 40 ms batches cost
  // about 1.3 CPU-s per delivered GB and 80 ms about 0.8 (docs/benchmarks.md). 60 ms keeps p99
  // latency under 100 ms; small audiences scale the delay down for low latency.
  std::uint32_t max_delay_ms = 60;           // longest a byte may wait, at full audiences
  std::size_t full_delay_audience = 500;     // viewers on one loop from which max_delay_ms applies
  std::size_t max_lag_bytes = 0;             // behind this far: slow (0: half the ring)
  SlowViewerAction slow_action = SlowViewerAction::skip;
};

// Packet framing of a stream: joins and skips land on origin + k * packet_size. For MPEG-TS
// the packet is 188 bytes and origin is where the current source's first sync byte landed.
struct Framing {
  std::uint64_t origin = 0;
  std::uint32_t packet_size = 1;

  // The highest packet boundary <= pos (pos itself when pos < origin: no framing known there).
  std::uint64_t align_down(std::uint64_t pos) const;
  // The lowest packet boundary >= pos.
  std::uint64_t align_up(std::uint64_t pos) const;
};

// The first position sent to a new viewer: burst_bytes behind head, never below `oldest`
// (the oldest readable position), on a packet boundary.
std::uint64_t join_position(std::uint64_t head, std::uint64_t oldest, std::size_t burst_bytes,
                            const Framing& framing);

// How long a viewer's bytes may wait for company: grows with the audience, so that small
// audiences get low latency and big ones get large writes.
std::uint32_t effective_delay_ms(const FanoutSettings& settings, std::size_t audience);

// What the scheduler knows of one viewer that has no write in flight.
struct ViewerCursor {
  std::uint64_t position = 0;       // next byte to send
  std::uint64_t waiting_since = 0;  // ms when its oldest unsent byte started waiting; 0: none
};

enum class Action {
  idle,        // nothing to send yet, or waiting to coalesce
  write,       // send [from, to)
  skip,        // too far behind: jump to `to` (a packet boundary at the live edge)
  disconnect,  // too far behind and the policy drops slow viewers
};

struct Decision {
  Action action = Action::idle;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

struct RingState {
  std::uint64_t head = 0;    // end of committed bytes
  std::uint64_t oldest = 0;  // oldest position still safe to read
  std::size_t capacity = 0;
};

Decision decide(const FanoutSettings& settings, const ViewerCursor& viewer, const RingState& ring,
                const Framing& framing, std::uint32_t delay_ms, std::uint64_t now_ms);

}  // namespace ringcast::relay
