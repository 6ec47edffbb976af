// A mount: its ring (the one copy of the stream's bytes), the source's metadata, its viewers,
// and the fan-out loop over them. Lives on one event loop; see docs/architecture.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ringcast/relay/config.h"
#include "ringcast/relay/fanout.h"
#include "ringcast/ringbuf/byte_ring.h"

namespace ringcast::relay {

class ViewerSession;

struct StreamCounters {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t joins = 0;
  std::uint64_t skips = 0;
  std::uint64_t skipped_bytes = 0;
  std::uint64_t slow_disconnects = 0;
  std::uint64_t source_connects = 0;
  std::uint64_t peak_viewers = 0;
};

class Stream {
 public:
  Stream(std::string mount, const RelayConfig& config);

  const std::string& mount() const { return mount_; }
  ringbuf::ByteRing& ring() { return ring_; }
  const ringbuf::ByteRing& ring() const { return ring_; }
  const FanoutSettings& settings() const { return settings_; }

  // --- source side ---
  // A source (re)attaches: metadata replaces the old, and MPEG-TS framing restarts at head.
  void attach_source(std::string content_type,
                     std::vector<std::pair<std::string, std::string>> ice_headers);
  void detach_source(std::uint64_t now_ms);
  bool has_source() const { return has_source_; }
  std::uint64_t orphaned_since_ms() const { return orphaned_since_ms_; }
  // Writable ring memory for the source's next read, evicting stalled viewers when they pin
  // the memory at head (the writer never waits for a viewer).
  std::span<std::byte> reserve_for_source(std::size_t wanted);
  // Bytes landed in the ring: publish and hand them to the viewers.
  void commit_from_source(std::size_t n, std::uint64_t now_ms);

  const std::string& content_type() const { return content_type_; }
  const std::vector<std::pair<std::string, std::string>>& ice_headers() const { return ice_headers_; }
  const Framing& framing() const { return framing_; }

  // --- viewer side ---
  void add_viewer(ViewerSession& viewer);
  void remove_viewer(ViewerSession& viewer);
  std::size_t viewer_count() const { return viewers_.size(); }
  const std::vector<ViewerSession*>& viewers() const { return viewers_; }
  // Where a new viewer starts: the live edge minus the burst, on a packet boundary.
  std::uint64_t join_position() const;
  RingState ring_state() const;

  // Writes to every viewer that is due. Called on commit (all viewers when enough bytes have
  // gathered or nobody coalesces) and on the flush tick (when the oldest wait has expired).
  void service_viewers(std::uint64_t now_ms);
  void on_flush_tick(std::uint64_t now_ms);
  // A viewer's unsent bytes started waiting at `since_ms` (for the flush tick).
  void note_waiting(std::uint64_t since_ms);
  std::uint32_t delay_ms() const;
  // Lowers the ring gate to cover a write that is now in flight from `pos`.
  void pin_in_flight(std::uint64_t pos);

  // --- stats ---
  StreamCounters& counters() { return counters_; }
  const StreamCounters& counters() const { return counters_; }
  double ingest_bits_per_second() const { return ingest_bps_; }
  void sample_rate(std::uint64_t now_ms);

  // Set by the server when the attached audience on all streams changes.
  void set_audience(std::size_t audience) { audience_ = audience; }

 private:
  void refresh_gate();
  void evict_pinning_viewers(std::uint64_t needed_pos);
  void lock_ts_framing();

  std::string mount_;
  FanoutSettings settings_;
  ringbuf::ByteRing ring_;
  std::string content_type_ = "application/octet-stream";
  std::vector<std::pair<std::string, std::string>> ice_headers_;
  Framing framing_;
  bool framing_locked_ = true;
  bool has_source_ = false;
  std::uint64_t orphaned_since_ms_ = 0;

  std::vector<ViewerSession*> viewers_;
  std::size_t audience_ = 0;
  std::uint64_t gate_refresh_head_ = 0;  // head at the last exact gate computation
  std::uint64_t serviced_head_ = 0;      // head when every viewer was last serviced
  std::uint64_t earliest_wait_ms_ = 0;   // oldest waiting_since of any viewer; 0: none

  StreamCounters counters_;
  double ingest_bps_ = 0;
  std::uint64_t rate_sample_bytes_ = 0;
  std::uint64_t rate_sample_ms_ = 0;
};

}  // namespace ringcast::relay
