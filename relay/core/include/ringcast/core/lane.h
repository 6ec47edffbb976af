// A lane: one loop's viewers of one mount, and every rule of the fan-out for them — what each
// viewer is written and when, who is skipped or closed, and which ring memory the loop still
// references (its gate). A pure state machine: events in (commit, tick, write results, time
// passed in), actions out; no clock, no socket, no libuv. Stream applies the actions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ringcast/core/fanout.h"

namespace ringcast::relay {

using ViewerId = std::uint32_t;

// What the lane may read now, as the ring's writer published it.
inline constexpr std::uint64_t kNoPosition = UINT64_MAX;

struct RingView {
  std::uint64_t head = 0;    // end of committed bytes
  std::uint64_t oldest = 0;  // oldest position still safe to read
  Framing framing;
  // MPEG-TS video: the newest keyframe's packet (kNoPosition: none). A skip lands there when it
  // is near the live edge, so a decoder restarts on a picture it can decode.
  std::uint64_t keyframe = kNoPosition;
};

// The loop's load, which scales coalescing: viewers on the loop (all mounts) and its busy
// share, 0 to 1.
struct LoopLoad {
  std::size_t audience = 1;
  double busy = 0;
};

enum class CloseReason : std::uint8_t {
  slow,         // too far behind and --slow-viewer disconnect
  stalled,      // its in-flight write pins memory the writer needs
  overwritten,  // a bounded read (an HLS segment) whose bytes the writer has since overwritten
};

// How a viewer joins a lane. The defaults are a live viewer: the stream from `position` on, for
// as long as it stays within the lane's lag limit.
struct JoinOptions {
  // ICY: a block after every `metaint` stream bytes it is sent (0: none). Blocks follow the
  // bytes sent, not ring positions: a skip does not move them. until_block: stream bytes before
  // its first block (0: a whole metaint), for a listener moved here from another mount, whose
  // count of bytes since its last block goes on.
  std::uint32_t metaint = 0;
  std::uint32_t until_block = 0;
  // Behind this far it is slow (0: the lane's max_lag_bytes): a timeshifted viewer reads
  // further back than live ones may lag.
  std::uint64_t max_lag_bytes = 0;
  // A bounded read (an HLS segment): [position, end) and then finish; never skipped, closed if
  // its bytes are overwritten first. kNoPosition: live, no end.
  std::uint64_t end = kNoPosition;
};

struct LaneAction {
  enum class Kind : std::uint8_t {
    write,   // write [from, to) of the ring to the viewer; report wrote() or lapped()
    skip,    // the viewer was too far behind and jumped from `from` to `to` (counted)
    close,   // close the viewer's connection (`reason`); then remove() it
    finish,  // the stream ended and the viewer has everything: close it cleanly
  };
  Kind kind = Kind::write;
  ViewerId viewer = 0;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  CloseReason reason = CloseReason::slow;
  // write, for a viewer with ICY metadata: its metadata block goes right after this stream
  // position (0: no block in this write). A write carries at most one block.
  std::uint64_t block_after = 0;
};
using LaneActions = std::vector<LaneAction>;

// A write as it goes on the socket: `lead_bytes` that are not stream (a join's response head
// and PAT/PMT prefix, in front of its first write), then stream bytes [from, to), with
// `block_bytes` of metadata inserted after stream position `block_after` (0: none). Maps what
// the kernel took back to stream positions, which is all the lane and the ring's gate count.
struct GatheredWrite {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::uint64_t block_after = 0;
  std::uint32_t block_bytes = 0;
  std::uint32_t lead_bytes = 0;

  std::uint64_t socket_bytes() const { return lead_bytes + (to - from) + block_bytes; }
  // The stream position before which every stream byte is taken once the kernel took
  // `taken` socket bytes: a lead or block taken in part holds the position before it.
  std::uint64_t stream_position_after(std::uint64_t taken) const {
    if (taken <= lead_bytes) return from;
    taken -= lead_bytes;
    if (block_bytes == 0) return from + taken;
    const std::uint64_t before = block_after - from;
    if (taken <= before) return from + taken;
    if (taken <= before + block_bytes) return block_after;
    return block_after + (taken - before - block_bytes);
  }
};

// Write policy. Every viewer of the lane sits in one of kSlots slots, and slot k is written
// k/kSlots of the way through every write period: each viewer gets one write per period, and
// each step of the wheel writes to a kSlots-th of the audience, so the loop never stops for one
// write to every viewer at once. The period aims at writes of `write_target_bytes` at the
// measured stream rate, never longer than `latency_budget_ms`; both shrink with the loop's
// audience below `full_audience` (a small audience gets low latency, and the loop's cost in
// writes per second stays what a full audience would cost), and past kStretchFromBusy of the
// loop busy the target grows (never the budget), up to kMaxStretch times. A period under
// kMinPeriodUs means every commit is written at once.
//
// A write ends on a packet boundary (a partial packet waits for its rest, or for the source to
// be quiet for a period and kQuietFlushUs), so an idle viewer sits on one, and a skip never
// splices two packets. A viewer whose write is in flight at its turn is written when that
// write completes.
class Lane {
 public:
  static constexpr std::size_t kSlots = 16;
  // A step of the wheel services as many slots (a power of two) as it takes to write this many
  // viewers, when the lane has them: at 1 Mbit/s 1,000 viewers are written in one step a
  // period, 5,000 in four. Steps of a sixteenth of 1,000 viewers cost 1.6 times the CPU per
  // byte of one step for all of them (docs/benchmarks.md, "Fewer, fuller steps").
  static constexpr std::size_t kMinWritesPerStep = 1024;
  // But a step's writes, at about kWriteCostUs each, take at most 1/kStepShareOfPeriod of the
  // period: the last viewer of a step waits for the others' writes (at 8 Mbit/s, 16 ms
  // periods, 1,000 viewers are written in four steps of 250).
  static constexpr std::uint64_t kWriteCostUs = 10;
  static constexpr std::uint64_t kStepShareOfPeriod = 4;
  static constexpr std::uint64_t kMinPeriodUs = 1000;
  static constexpr std::uint64_t kUnknownRatePeriodUs = 100'000;  // until a rate is measured
  static constexpr std::uint64_t kRateWindowUs = 1'000'000;
  // A partial packet at the live edge waits for its rest, or for the source to be quiet this
  // long more than a write period: longer than encoders leave between writes (a video frame,
  // an audio block, a write a second), so that reads ending mid-packet never cost a write of
  // their own. A source that writes 4 KiB at 128 kbit/s is quiet 256 ms before each write;
  // flushed after 250 ms alone, every viewer got a write per source write, not one a period.
  static constexpr std::uint64_t kQuietFlushUs = 250'000;
  static constexpr double kStretchFromBusy = 0.7;
  static constexpr double kMaxStretch = 3.0;

  struct Settings {
    std::size_t capacity = 0;  // the ring's (a power of two)
    std::size_t write_target_bytes = 16 * 1024;
    std::uint32_t latency_budget_ms = 1000;
    std::size_t full_audience = 800;  // 0: always full
    std::size_t max_write_bytes = 256 * 1024;
    std::size_t max_lag_bytes = 0;  // 0: half the ring
    SlowViewerAction slow_action = SlowViewerAction::skip;
  };

  explicit Lane(const Settings& settings);

  // --- viewers ---
  // A viewer that will start at `position`; it is written nothing until start().
  ViewerId add(std::uint64_t position, const JoinOptions& options);
  ViewerId add(std::uint64_t position, std::uint32_t metaint = 0, std::uint32_t until_block = 0) {
    return add(position, JoinOptions{metaint, until_block});
  }
  // It may be written: it gets its burst (everything from its position) at once. Its
  // connection sends the response head in front of that first write (ViewerSession::start).
  void start(ViewerId viewer, const RingView& ring, LaneActions& out);
  // Not written again until start(): start() wrote it nothing, and the response head it sent
  // on its own went out only in part. Its position stays; it must have no write in flight.
  void pause(ViewerId viewer);
  // The viewer is gone (closed or finished); its in-flight write no longer holds the gate.
  void remove(ViewerId viewer);
  std::size_t size() const { return live_; }
  std::uint64_t position(ViewerId viewer) const { return viewers_[viewer].position; }
  bool in_flight(ViewerId viewer) const { return viewers_[viewer].in_flight; }
  std::uint32_t until_block(ViewerId viewer) const { return viewers_[viewer].until_block; }
  // A close or finish was decided for it: its pending write actions are not carried out.
  bool closing(ViewerId viewer) const { return viewers_[viewer].closing; }

  // --- events ---
  // The writer committed up to ring.head.
  void commit(const RingView& ring, const LoopLoad& load, std::uint64_t now_us, LaneActions& out);
  // Time passed: the slots that came round by now_us are written.
  void tick(const RingView& ring, const LoopLoad& load, std::uint64_t now_us, LaneActions& out);
  // A write action was attempted and the kernel took everything before `accepted`; the rest
  // (if any) is in flight until write_done(). A write whose stream bytes were all taken but
  // not its metadata block is still in flight: report progressed(), not wrote().
  void wrote(ViewerId viewer, std::uint64_t accepted, const RingView& ring, LaneActions& out);
  void write_done(ViewerId viewer, const RingView& ring, LaneActions& out);
  // A write action found its start overwritten (the pin failed): nothing was written.
  void lapped(ViewerId viewer, const RingView& ring, LaneActions& out);
  // The kernel has taken the in-flight write up to `accepted` (it is still in flight).
  void progressed(ViewerId viewer, std::uint64_t accepted);
  // Closes every viewer whose in-flight write still needs memory below `position`.
  void evict_below(std::uint64_t position, LaneActions& out);
  // The stream ended: each viewer gets what is left, partial packet included, then finishes.
  void finish(const RingView& ring, LaneActions& out);
  // The source is read on demand (source_hold.h): its bytes wait in the kernel until the
  // writer's loop reads them right before this lane's tick, so while held the wheel keeps
  // turning for every slot with viewers, whether or not the head moved. Holding starts a
  // stopped wheel at now_us (once a commit has set the period).
  void hold_source(bool held, std::uint64_t now_us);
  bool source_held() const { return held_; }

  // --- outputs ---
  // The oldest position an in-flight write may still read (rounded down to a gate bucket);
  // ringbuf::kNoGate when nothing is in flight. Every write action decided and not yet
  // reported done is at or above it.
  std::uint64_t gate() const;
  // When tick() next has work (none: the wheel is stopped until the next commit).
  std::optional<std::uint64_t> next_tick_us() const;
  std::uint64_t period_us() const { return period_us_; }
  std::uint64_t rate_bytes_per_second() const { return rate_; }

  template <typename Visit>
  void for_each_in_flight(Visit&& visit) const {
    for (ViewerId id = 0; id < viewers_.size(); ++id) {
      const Viewer& v = viewers_[id];
      if (v.live && v.in_flight && !v.closing) visit(id, v.in_flight_from);
    }
  }

  // The write period for a load and a rate (0: write every commit). Public for tests.
  std::uint64_t period_for(const LoopLoad& load, std::uint64_t rate) const;

 private:
  struct Viewer {
    std::uint64_t position = 0;        // next byte to send
    std::uint64_t in_flight_from = 0;  // the kernel took everything before it
    std::uint64_t in_flight_to = 0;
    std::uint32_t slot_index = 0;
    std::uint8_t slot = 0;
    bool live = false;
    bool started = false;
    bool in_flight = false;
    bool missed_turn = false;  // in flight at its slot's turn: write when done
    bool capped = false;       // the last write stopped at max_write_bytes: keep going
    bool closing = false;      // a close or finish action was emitted: ignore it
    std::uint32_t metaint = 0;      // ICY: a block every metaint stream bytes (0: none)
    std::uint32_t until_block = 0;  // stream bytes to send before the next block (1..metaint)
    std::uint32_t until_block_at_issue = 0;  // before the write in flight (a lap undoes it)
    std::uint64_t max_lag = 0;               // JoinOptions::max_lag_bytes, resolved
    std::uint64_t end = kNoPosition;         // JoinOptions::end
  };
  struct Slot {
    std::vector<ViewerId> viewers;
    std::uint64_t serviced_head = 0;  // head when the slot was last serviced
  };

  static constexpr std::size_t kGateBuckets = 64;  // over two rings' worth of positions

  void observe(std::uint64_t head, std::uint64_t now_us);
  void service_slot(Slot& slot, const RingView& ring, LaneActions& out);
  void service(ViewerId id, const RingView& ring, LaneActions& out);
  void issue_write(ViewerId id, std::uint64_t end, LaneActions& out);
  void complete(ViewerId id, const RingView& ring, LaneActions& out);
  // Where a viewer too far behind jumps to: the newest keyframe when one is near the live
  // edge, else the last packet boundary.
  std::uint64_t skip_target(const RingView& ring) const;
  bool slot_has_work(const Slot& slot, std::uint64_t head) const;
  void bucket_add(std::uint64_t position);
  void bucket_remove(std::uint64_t position);

  Settings settings_;
  std::vector<Viewer> viewers_;  // by ViewerId; dead entries are reused
  std::vector<ViewerId> free_;
  std::size_t live_ = 0;
  std::array<Slot, kSlots> slots_;
  bool finishing_ = false;
  bool held_ = false;  // hold_source()
  bool partial_held_ = false;  // some viewer waits at a partial packet
  bool quiet_flush_ = false;   // servicing for a quiet source: partial packets go out
  std::uint64_t last_head_ = 0;
  std::uint64_t last_head_change_us_ = 0;

  // The wheel.
  std::uint64_t period_us_ = 0;
  std::size_t next_slot_ = 0;
  // Slots serviced per step (kMinWritesPerStep), and the time between steps.
  std::size_t slots_per_step() const;
  std::uint64_t quiet_after_us() const;  // kQuietFlushUs more than the period
  std::uint64_t step_us(std::size_t slots) const;
  std::uint64_t next_due_us_ = 0;  // 0: stopped

  // The stream's rate, measured from the heads the lane sees.
  std::uint64_t rate_ = 0;  // bytes per second; 0: not measured yet
  std::uint64_t window_head_ = 0;
  std::uint64_t window_start_us_ = 0;

  // In-flight writes counted by gate bucket (position >> bucket_shift_, modulo kGateBuckets).
  std::array<std::uint32_t, kGateBuckets> bucket_count_{};
  unsigned bucket_shift_ = 0;
  std::size_t in_flight_count_ = 0;
  mutable std::uint64_t lowest_bucket_ = UINT64_MAX;  // no in-flight write below this bucket
  std::uint64_t exact_floor_ =
      UINT64_MAX;  // nor below this position (exact after an eviction scan)
};

}  // namespace ringcast::relay
