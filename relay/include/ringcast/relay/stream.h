// A mount: its ring (the one copy of the stream's bytes), the source's metadata, and one lane
// per worker loop holding that loop's viewers of the mount. The source's loop is the ring's
// one writer; each worker's lane reads the ring and owns gate slot `worker index`.
// See docs/architecture.md for the thread model.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ringcast/relay/config.h"
#include "ringcast/relay/fanout.h"
#include "ringcast/ringbuf/byte_ring.h"

namespace ringcast::relay {

class ViewerSession;
class Worker;

// A counter with one writing thread and readers anywhere (/stats): relaxed load and store, no
// read-modify-write on the hot path, no lock.
class Counter {
 public:
  void add(std::uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }  // used as a gauge
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct StreamMetadata {
  std::string content_type = "application/octet-stream";
  std::vector<std::pair<std::string, std::string>> ice_headers;
};

// A lane's viewers that its FlushWheel writes at the same step. The slots together hold every
// viewer of the lane (each once).
struct FlushSlot {
  std::vector<ViewerSession*> viewers;
  std::uint64_t serviced_head = 0;  // head when these viewers were last serviced
};

// One worker's share of a mount. Every field but the counters and `notify_pending` is touched
// only by that worker's thread.
struct alignas(64) StreamLane {
  std::array<FlushSlot, FlushWheel::kSlots> slots;  // the lane's viewers, by flush step
  FlushWheel wheel;
  bool bytes_waiting = false;  // a viewer went idle with bytes unsent: flush them if the source goes quiet
  std::uint64_t gate_refresh_head = 0;
  std::atomic<bool> notify_pending{false};     // a commit event is queued for this lane
  std::atomic<bool> make_room_pending{false};  // a make_room event is queued for this lane
  std::atomic<std::uint32_t> viewer_count{0};
  Counter bytes_out, joins, skips, skipped_bytes, slow_disconnects;
};

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::string mount, const RelayConfig& config, std::size_t workers);

  const std::string& mount() const { return mount_; }
  ringbuf::ByteRing& ring() { return ring_; }
  const ringbuf::ByteRing& ring() const { return ring_; }
  const FanoutSettings& settings() const { return settings_; }
  std::size_t lane_count() const { return lane_count_; }
  StreamLane& lane(std::size_t worker) { return lanes_[worker]; }
  const StreamLane& lane(std::size_t worker) const { return lanes_[worker]; }

  // --- source side (the writer's worker thread) ---
  // A source (re)attaches on `worker`: metadata replaces the old, MPEG-TS framing restarts.
  void attach_source(std::size_t worker, StreamMetadata metadata);
  void detach_source(std::uint64_t now_ms);
  bool has_source() const { return has_source_.load(std::memory_order_acquire); }  // pairs: attach/detach release
  std::uint64_t orphaned_since_ms() const { return orphaned_since_ms_.load(std::memory_order_acquire); }
  // When the source last committed bytes (monotonic ms; 0: never).
  std::uint64_t last_commit_ms() const { return last_commit_ms_.load(std::memory_order_relaxed); }
  std::size_t writer_worker() const { return writer_worker_.load(std::memory_order_acquire); }
  // Writable ring memory for the source's next read. Stalled viewers of the writer's own lane
  // are evicted at once; other lanes are asked (the span may then be short, even empty).
  std::span<std::byte> reserve_for_source(std::size_t wanted, Worker& writer);
  // Bytes landed in the ring: publish them, service the own lane, notify the other lanes.
  void commit_from_source(std::size_t n, std::uint64_t now_ms, Worker& writer);

  StreamMetadata metadata() const;
  Framing framing() const;

  // --- viewer side (a lane's worker thread) ---
  void add_viewer(std::size_t worker, ViewerSession& viewer);
  void remove_viewer(std::size_t worker, ViewerSession& viewer);
  std::size_t viewer_count() const;
  std::uint64_t join_position() const;
  RingState ring_state() const;
  // Services every viewer of the lane (each decides whether it is due).
  void service_lane(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_ms);
  // New bytes: with no delay every viewer gets them now; otherwise a slot whose viewers have
  // --coalesce-bytes waiting is serviced, and the rest wait for their slot of the wheel.
  void on_commit_event(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_ms);
  // The worker's flush timer: the slots that came round write whatever their viewers have, and
  // once the source has been quiet for kPartialPacketHoldMs every viewer gets what it waits for.
  void on_flush_tick(std::size_t worker, std::uint32_t delay_ms, std::uint64_t now_us);
  // Keeps the memory from `pos` on safe from the writer while a write is in flight. False:
  // `pos` was overwritten meanwhile (a lap) and must not be read.
  bool pin(std::size_t worker, std::uint64_t pos) { return ring_.pin(worker, pos); }
  // Recomputes the lane's gate; viewers whose in-flight write pins memory below `evict_below`
  // are closed first (they have taken nothing for most of a ring).
  void refresh_lane_gate(std::size_t worker, std::uint64_t evict_below);

  // --- stats (any thread) ---
  std::uint64_t bytes_in() const { return bytes_in_.get(); }
  std::uint64_t source_connects() const { return source_connects_.get(); }
  std::uint64_t ingest_bits_per_second() const { return ingest_bps_.load(std::memory_order_relaxed); }
  void sample_rate(std::uint64_t now_ms);  // the housekeeping thread only
  std::uint64_t peak_viewers() const { return peak_viewers_.load(std::memory_order_relaxed); }

 private:
  void lock_ts_framing();
  std::uint64_t eviction_threshold() const;
  void service_slot(FlushSlot& slot, const RingState& state, std::uint32_t delay_ms,
                    std::uint64_t now_ms);
  void refresh_gate_if_due(std::size_t worker);

  const std::string mount_;
  FanoutSettings settings_;
  ringbuf::ByteRing ring_;
  const std::size_t lane_count_;
  std::unique_ptr<StreamLane[]> lanes_;

  mutable std::mutex metadata_mutex_;  // viewers read metadata at join; sources replace it
  StreamMetadata metadata_;

  // Framing: written by the writer, read by lanes when they join or skip a viewer.
  std::atomic<std::uint64_t> framing_origin_{0};
  std::atomic<std::uint32_t> framing_packet_{1};
  bool framing_locked_ = true;  // writer only

  std::atomic<bool> has_source_{false};
  std::atomic<std::uint64_t> orphaned_since_ms_{0};
  std::atomic<std::size_t> writer_worker_{0};
  std::uint64_t writer_gate_refresh_head_ = 0;  // writer only

  Counter bytes_in_, source_connects_;
  std::atomic<std::uint64_t> ingest_bps_{0};
  std::atomic<std::uint64_t> last_commit_ms_{0};
  std::atomic<std::uint64_t> peak_viewers_{0};
  std::uint64_t rate_sample_bytes_ = 0;  // housekeeping only
  std::uint64_t rate_sample_ms_ = 0;
};

}  // namespace ringcast::relay
