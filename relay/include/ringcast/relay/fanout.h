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
  // A write() costs 5-9 us whatever its size: at 1,000 viewers of 1 Mbit/s, 60 ms batches cost
  // about 0.9 CPU-s per delivered GB and 80 ms about 0.7 (docs/benchmarks.md), and a byte waits
  // at most the delay (FlushWheel), so 80 ms keeps p99 latency under 100 ms. Small audiences
  // scale it down for low latency (100 viewers: 10 ms); a saturated loop stretches it.
  std::uint32_t max_delay_ms = 80;           // longest a byte may wait, at full audiences
  std::size_t full_delay_audience = 800;     // viewers on one loop from which max_delay_ms applies
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

// Past half of a loop's time busy, the delay grows with the load, up to kMaxDelayStretch
// times: a loop near saturation writes larger batches, fewer of them, instead of falling
// behind on every viewer at once. `busy` is the loop's busy fraction, 0 to 1.
inline constexpr double kStretchFromBusy = 0.5;
inline constexpr double kMaxDelayStretch = 3.0;
std::uint32_t loaded_delay_ms(std::uint32_t delay_ms, double busy);

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

// A write ends on a packet boundary (a partial packet waits for its rest), so a viewer with no
// write in flight sits on one: should the writer lap it before it is serviced again (a stalled
// loop), its skip to the live edge never splices two packets. `partial_ok`: send a partial
// packet too, because nothing is about to complete it (the stream ended, or the source has
// been quiet for kPartialPacketHoldMs).
Decision decide(const FanoutSettings& settings, const ViewerCursor& viewer, const RingState& ring,
                const Framing& framing, std::uint32_t delay_ms, std::uint64_t now_ms,
                bool partial_ok = false);

// How long a partial packet at the live edge waits for its rest before it is sent anyway.
inline constexpr std::uint64_t kPartialPacketHoldMs = 20;

// When a lane's waiting viewers are written: its viewers are dealt into kSlots slots (a new
// viewer goes to the least populated one), and slot k comes round once per delay, k/kSlots of
// the way through it. A viewer's bytes so wait at most one delay (plus a timer tick) and it
// still writes once per delay, but each step writes to a kSlots-th of the audience: the loop
// never stops for one write to every viewer at once, and the source's reads never queue behind
// such a burst.
class FlushWheel {
 public:
  static constexpr std::size_t kSlots = 16;

  // Calls visit(slot) for every slot that came round by `now_us` for a delay of `delay_us`,
  // in order, at most one round: a loop that fell behind catches up once, not round by round.
  // A delay of 0 stops the wheel (every commit is written at once then).
  template <typename Visit>
  void advance(std::uint64_t now_us, std::uint64_t delay_us, Visit&& visit) {
    if (delay_us == 0) {
      next_due_us_ = 0;
      return;
    }
    const std::uint64_t step = delay_us / kSlots > 0 ? delay_us / kSlots : 1;
    if (next_due_us_ == 0) next_due_us_ = now_us + step;
    for (std::size_t n = 0; n < kSlots && now_us >= next_due_us_; ++n) {
      visit(next_);
      next_ = (next_ + 1) % kSlots;
      next_due_us_ += step;
    }
    if (now_us >= next_due_us_) next_due_us_ = now_us + step;
  }

 private:
  std::size_t next_ = 0;           // the slot that comes round next
  std::uint64_t next_due_us_ = 0;  // when it does; 0: the wheel is stopped
};

}  // namespace ringcast::relay
