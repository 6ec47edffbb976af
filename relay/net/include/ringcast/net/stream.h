// A mount: its ring (the one copy of the stream's bytes), the source's metadata, and one lane
// per worker loop holding that loop's viewers of the mount. The source's loop is the ring's
// one writer; each worker's lane reads the ring and owns gate slot `worker index`.
// See docs/architecture.md for the thread model.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringcast/auth/listener_users.h"
#include "ringcast/core/fanout.h"
#include "ringcast/core/lane.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/net/lane_viewer.h"
#include "ringcast/net/loop_event.h"
#include "ringcast/radio/audio_frames.h"
#include "ringcast/ringbuf/byte_ring.h"
#include "ringcast/video/hls.h"
#include "ringcast/video/hls_sessions.h"
#include "ringcast/video/ts_tracker.h"
#include "ringcast/video/video_index.h"

namespace ringcast::relay {

struct MountSettings;


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

// What the source said about its stream, as PeerText: every page may show it.
// What a source's head (or an origin's answer) may put in its mount's metadata: a content type
// is a short token, and a few ice-* headers of a KiB each are all any encoder sends.
inline constexpr std::size_t kMaxContentTypeBytes = 256;
inline constexpr std::size_t kMaxIceHeaders = 32;
inline constexpr std::size_t kMaxIceHeaderNameBytes = 64;
inline constexpr std::size_t kMaxUserAgentBytes = 256;

struct StreamMetadata {
  PeerText content_type = PeerText::from("application/octet-stream");
  std::vector<std::pair<PeerText, PeerText>> ice_headers;  // ice-* and icy-* headers, in order
  std::uint64_t started_unix_ms = 0;  // when the source connected
  PeerText user_agent;                // the source's (Icecast's admin stats show it)
  std::string source_ip;
};

// The mount's current title as ICY listeners receive it: built once per change and shared by
// every listener (each holds a reference while its write of the block is in flight).
struct IcyTitle {
  PeerText title;
  PeerText url;
  std::string block;  // the length byte, StreamTitle='...'; and NUL padding (icecast.h)
  std::uint64_t updated_unix_ms = 0;
};

// A source its writer's loop reads on demand (source_hold.h): SourceSession, or a test's fake.
class HeldSource {
 public:
  // Reads what the kernel holds for it now, as if it had just arrived.
  virtual void read_now() = 0;
  // Reads it as bytes arrive again, from now on (until its loop holds it again).
  virtual void release() = 0;

 protected:
  ~HeldSource() = default;
};

// One worker's share of a mount: its Lane (the rules) and what applying the lane's actions
// needs. Every field but the atomics and counters is touched only by that worker's thread.
struct alignas(64) StreamLane {
  explicit StreamLane(const Lane::Settings& settings) : lane(settings) {}

  Lane lane;
  std::vector<LaneViewer*> sessions;  // by ViewerId; null once removed
  LaneActions actions;                   // reused: no allocation per event once warm
  bool applying = false;
  std::uint64_t scheduled_us = 0;  // the tick this lane's loop holds for it (0: none)
  HeldSource* held_source = nullptr;  // this loop's source, read on demand (null: none)
  std::atomic<bool> notify_pending{false};     // a commit event is queued for this lane
  std::atomic<bool> make_room_pending{false};  // a make_room event is queued for this lane
  std::atomic<std::uint32_t> viewer_count{0};
  std::atomic<std::uint64_t> period_us{0};  // the lane's write period (for /stats)
  Counter bytes_out, joins, skips, skipped_bytes, slow_disconnects;
};

// What a viewer asks of its join (the query string, ICY).
struct JoinRequest {
  std::uint32_t metaint = 0;
  std::uint32_t until_block = 0;  // a moved listener's ICY count (JoinOptions)
  std::optional<std::uint64_t> rewind_ms;  // ?rewind=: start this far behind live
  // A listener moved here from another mount (fallback, its source's return, moveclients): its
  // player already holds seconds of audio, so it continues at the live edge, on a frame, with
  // no burst (as Icecast does). Video still starts on a keyframe.
  bool moved = false;
  // Moved back to a stream it left at this position: it starts no earlier (invariant 1).
  std::optional<std::uint64_t> not_before;
};

// Where a viewer was put.
struct JoinPoint {
  ViewerId id = 0;
  std::uint64_t position = 0;              // its first stream byte
  std::shared_ptr<const PsiBlock> prefix;  // sent before its first stream byte (null: none)
  bool keyframe = false;                   // it starts on a video keyframe
  std::uint64_t behind_ms = 0;             // a keyframe join: how far behind live, wall time
};

// How a mount's ring is sized when nothing sets it: by time, from the rate the source declares
// (ice-bitrate, icy-br, ice-audio-info bitrate=) or, failing that, from its content type.
struct RingSizing {
  std::size_t explicit_bytes = 0;  // --ring-size or the mount's ring_size: wins (0: by time)
  // --ring-seconds; 0: kDefaultRingSeconds, or kDefaultTsRingSeconds for MPEG-TS (whose
  // timeshift and HLS window is half the ring).
  std::uint32_t seconds = 0;
  static constexpr std::uint32_t kDefaultRingSeconds = 10;
  static constexpr std::uint32_t kDefaultTsRingSeconds = 30;
  std::size_t min_bytes = 512 * 1024;
  std::size_t max_bytes = 64 * 1024 * 1024;
};
// The ring's capacity (a power of two) for a source with these headers.
std::size_t ring_bytes_for(const RingSizing& sizing, const StreamMetadata& metadata);
// kbit/s the source declares, 0 when it does not.
std::uint64_t declared_kbps(const StreamMetadata& metadata);
// What a source says of its stream (a broadcaster's request head, an origin's answer): its
// Content-Type and ice-*/icy-* headers, bounded and made PeerText, with the mount's own settings
// (settings may be null) in place of what it said. Who sent it and when are the caller's to add.
StreamMetadata stream_metadata_from(const std::vector<std::pair<std::string, std::string>>& headers,
                                    const MountSettings* settings);
bool is_mpeg_ts(std::string_view content_type);

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::string mount, const FanoutSettings& settings, std::size_t ring_bytes, std::size_t workers);

  const std::string& mount() const { return mount_; }
  ringbuf::ByteRing& ring() { return ring_; }
  const ringbuf::ByteRing& ring() const { return ring_; }
  std::size_t lane_count() const { return lanes_.size(); }
  StreamLane& lane(std::size_t worker) { return *lanes_[worker]; }
  const StreamLane& lane(std::size_t worker) const { return *lanes_[worker]; }

  // --- source side (the writer's loop) ---
  // A source (re)attaches on `worker`: metadata replaces the old, MPEG-TS framing restarts
  // (an HLS segment still open ends at metadata.started_unix_ms).
  void attach_source(std::size_t worker, StreamMetadata metadata);
  // now_ms: monotonic, when the grace period starts; now_unix_ms: wall time, where an HLS
  // segment still open ends.
  void detach_source(std::uint64_t now_ms, std::uint64_t now_unix_ms);
  bool has_source() const { return has_source_.load(std::memory_order_acquire); }  // pairs: attach/detach release
  std::uint64_t orphaned_since_ms() const { return orphaned_since_ms_.load(std::memory_order_acquire); }
  std::size_t writer_worker() const { return writer_worker_.load(std::memory_order_acquire); }
  // Writable ring memory for the source's next read. Stalled viewers of the writer's own lane
  // are evicted at once; other lanes are asked (the span may then be short, even empty).
  std::span<std::byte> reserve_for_source(std::size_t wanted, LoopHost& writer);
  // Bytes landed in the ring: publish them, run the own lane, notify the other lanes.
  void commit_from_source(std::size_t n, LoopHost& writer);
  // The writer's loop reads its source on demand (null: as bytes arrive again): right before
  // its lane's ticks, which keep turning for the lane's viewers, and before a join there.
  void hold_source(LoopHost& writer, HeldSource* source);
  // The current source sends MPEG-TS (the writer's loop only).
  bool video_source() const { return ts_source_; }
  std::uint32_t latency_budget_ms() const { return settings_.latency_budget_ms; }
  // The relay kept the source from reading (no ring room) for this long.
  void add_source_paused(std::uint64_t us) { source_paused_us_.add(us); }

  StreamMetadata metadata() const;
  // The current source's first two bytes (what Safari's Range: bytes=0-1 probe is sent).
  std::array<char, 2> first_bytes() const {
    const std::uint16_t bytes = first_bytes_.load(std::memory_order_relaxed);
    return {static_cast<char>(bytes >> 8), static_cast<char>(bytes & 0xff)};
  }
  // Kept off status-json and the dashboard (the mount's `hidden` key, set when a source attaches).
  bool hidden() const { return hidden_.load(std::memory_order_relaxed); }
  void set_hidden(bool hidden) { hidden_.store(hidden, std::memory_order_relaxed); }
  // The title (/admin/metadata): any thread. Kept across source reconnects within grace.
  std::shared_ptr<const IcyTitle> title() const {
    std::lock_guard lock(title_mutex_);
    return title_;
  }
  void set_title(PeerText title, PeerText url, std::uint64_t now_unix_ms);
  Framing framing() const;
  RingView ring_view() const;

  // --- viewer side (a lane's loop) ---
  // A viewer joins: at the newest keyframe of an MPEG-TS video stream when one is within the
  // burst limit (or `rewind_ms` behind live), else a burst behind the live edge (on an audio
  // frame for MP3 and AAC). It is written nothing until start_viewer().
  JoinPoint add_viewer(LoopHost& host, LaneViewer& viewer, const JoinRequest& request = {});
  // An HLS segment's reader: a bounded viewer of [read.from, read.to), not counted as a
  // viewer. Null when the segment is no longer servable.
  std::optional<ViewerId> add_segment_reader(LoopHost& host, LaneViewer& reader, const SegmentRead& read);
  void remove_segment_reader(LoopHost& host, ViewerId reader);
  // The viewer may be written; its burst goes at once (Lane::start, Lane::pause).
  void start_viewer(LoopHost& host, ViewerId viewer);
  void pause_viewer(LoopHost& host, ViewerId viewer);
  void remove_viewer(LoopHost& host, ViewerId viewer);
  void viewer_write_done(LoopHost& host, ViewerId viewer);
  std::uint64_t viewer_position(std::size_t worker, ViewerId viewer) const {
    return lanes_[worker]->lane.position(viewer);
  }
  std::uint32_t viewer_until_block(std::size_t worker, ViewerId viewer) const {
    return lanes_[worker]->lane.until_block(viewer);
  }
  std::size_t viewer_count() const;
  // A commit event: new bytes for this loop's lane.
  void on_commit_event(LoopHost& host);
  // The lane's scheduled tick (due_us: when it was due; stale ticks are ignored).
  void on_tick(LoopHost& host, std::uint64_t due_us);
  // The writer needs memory up to `needed`: close this lane's viewers that pin it.
  void make_room(LoopHost& host, std::uint64_t needed);
  // Grace is over: each viewer of the lane gets what is left, then is closed cleanly.
  void end_lane(LoopHost& host);
  // Keeps the memory from `pos` on safe from the writer while a write is in flight. False:
  // `pos` was overwritten meanwhile (a lap) and must not be read.
  bool pin(std::size_t worker, std::uint64_t pos) { return ring_.pin(worker, pos); }

  // --- video: MPEG-TS structure (any thread; the writer keeps it) ---
  // The live HLS playlist (hls.h) naming segments `prefix<sequence>.ts`; nullopt: not a video
  // stream (no segment cut yet is an empty playlist).
  std::optional<std::string> hls_playlist(std::string_view segment_prefix) const;
  // The segment, if the ring still holds it well enough to serve it whole.
  std::optional<SegmentRead> hls_segment(std::uint64_t sequence) const;
  // window_ms: how far back the ring's keyframes reach (rewind, HLS).
  using VideoStats = VideoIndex::Stats;
  VideoStats video_stats() const;
  // HLS requests, counted by the workers that serve them (sums of several writers: these are
  // read-modify-write, unlike Counter's single-writer adds).
  std::atomic<std::uint64_t> hls_playlists{0}, hls_segments{0}, hls_misses{0};
  HlsSessions hls_sessions;
  ListenerUsers listener_users;  // authenticated users listening now (duplicate-user rule)

  // --- stats (any thread) ---
  std::uint64_t bytes_in() const { return bytes_in_.get(); }
  std::uint64_t source_connects() const { return source_connects_.get(); }
  // Sources that followed another on the mount (a reconnect within grace, a new encoder).
  std::uint64_t source_changes() const {
    const std::uint64_t connects = source_connects();
    return connects > 0 ? connects - 1 : 0;
  }
  std::uint64_t source_paused_us() const { return source_paused_us_.get(); }
  std::uint64_t write_period_us() const {
    std::uint64_t longest = 0;
    for (const auto& lane : lanes_) longest = std::max(longest, lane->period_us.load(std::memory_order_relaxed));
    return longest;
  }
  std::uint64_t ingest_bits_per_second() const { return ingest_bps_.load(std::memory_order_relaxed); }
  void sample_rate(std::uint64_t now_ms);  // the housekeeping thread only
  std::uint64_t peak_viewers() const { return peak_viewers_.load(std::memory_order_relaxed); }

 private:
  void lock_ts_framing();
  // MP3 and AAC: the first frame at or after `position` (within kFrameSearchBytes), so that a
  // listener starts on a frame; `position` itself for other streams or when none is found.
  std::uint64_t audio_frame_at_or_after(std::size_t worker, std::uint64_t position, std::uint64_t head);
  static constexpr std::size_t kFrameSearchBytes = 4096;  // over two frames of 320 kbit/s MP3
  // How far behind the live edge a moved listener starts: room to find a frame, no more.
  static constexpr std::size_t kMoveBackBytes = kFrameSearchBytes;
  std::uint64_t eviction_threshold() const;
  // How far behind head a reader is evicted: three quarters of the ring.
  std::uint64_t eviction_margin() const { return ring_.capacity() - ring_.capacity() / 4; }
  // How far back rewinds and HLS playlists reach: half the ring behind head.
  std::uint64_t window_floor(std::uint64_t head) const;
  // The writer: follow the TS structure of bytes just committed at `position`.
  void feed_video(std::uint64_t position, std::size_t n, std::uint64_t now_unix_ms);
  std::optional<JoinPoint> keyframe_join(const RingView& view, const JoinRequest& request, std::uint64_t now_unix_ms);
  // Applies what the lane decided, feeding write results back, then publishes the gate and
  // asks for the lane's next tick.
  void apply(LoopHost& host, StreamLane& lane);
  void evict_stalled(LoopHost& host, StreamLane& lane, std::uint64_t below);
  // The lane's gate is over three quarters of a ring behind head: evict what pins it.
  void evict_if_lagging(LoopHost& host, StreamLane& lane);

  const std::string mount_;
  FanoutSettings settings_;
  ringbuf::ByteRing ring_;
  std::size_t burst_bytes_ = 0;          // a join that is not at a keyframe
  std::size_t keyframe_join_bytes_ = 0;  // the furthest back a keyframe join starts
  std::vector<std::unique_ptr<StreamLane>> lanes_;

  mutable std::mutex metadata_mutex_;  // viewers read metadata at join; sources replace it
  StreamMetadata metadata_;
  // A mutex held for a pointer copy, not std::atomic<std::shared_ptr>: libstdc++ 12's releases
  // its lock bit in load() with a relaxed store, which does not order the load before the next
  // store (ThreadSanitizer reported it once; a CPU weaker than x86 could show it).
  mutable std::mutex title_mutex_;
  std::shared_ptr<const IcyTitle> title_;

  // Framing: written by the writer, read by lanes (origin last, with release).
  std::atomic<std::uint64_t> framing_origin_{0};
  std::atomic<std::uint32_t> framing_packet_{1};
  std::atomic<std::uint64_t> framing_cut_from_{0};
  bool framing_locked_ = true;  // writer only

  // MPEG-TS video: created when the first TS source attaches (the writer stores it once, with
  // release; readers load it with acquire) and kept as long as the stream. The writer feeds
  // it; joins, HLS requests and /stats ask it (it has its own lock).
  std::unique_ptr<VideoIndex> video_owner_;
  std::atomic<VideoIndex*> video_{nullptr};
  bool ts_source_ = false;  // writer only: the current source sends MPEG-TS
  // The newest keyframe (kNoPosition: none), for skips: written by the writer after the
  // tracker, read by lanes in ring_view() (relaxed: a stale keyframe is still a keyframe the
  // lane checks against the ring's oldest).
  std::atomic<std::uint64_t> newest_keyframe_{kNoPosition};

  std::atomic<std::uint16_t> first_bytes_{0};
  std::atomic<AudioFraming> audio_framing_{AudioFraming::none};
  std::atomic<bool> hidden_{false};
  bool first_bytes_seen_ = false;  // writer only: since the source attached
  std::atomic<bool> has_source_{false};
  std::atomic<std::uint64_t> orphaned_since_ms_{0};
  std::atomic<std::size_t> writer_worker_{0};

  Counter bytes_in_, source_connects_, source_paused_us_;
  Counter last_commit_ms_;  // monotonic: the ingest rate is measured between commits
  std::atomic<std::uint64_t> ingest_bps_{0};
  std::atomic<std::uint64_t> peak_viewers_{0};
  static constexpr std::uint64_t kRateWindowMs = 1000;  // the ingest rate's shortest window
  static constexpr std::uint64_t kRateQuietMs = 5000;   // no commit this long: measured to now
  std::uint64_t rate_sample_bytes_ = 0;  // housekeeping only
  std::uint64_t rate_sample_ms_ = 0;
};

}  // namespace ringcast::relay
