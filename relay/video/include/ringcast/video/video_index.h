// An MPEG-TS mount's index over its ring positions: the structure tracker, the keyframes it
// found, the HLS segments cut at them, and the PAT/PMT a keyframe join or a segment is sent
// first. It holds no stream bytes and knows no ring: the mount's writer feeds it the bytes it
// commits, with their positions; joins, HLS requests and /stats ask it, from any loop, with the
// bounds the ring sets (what it still holds, what a reader could still be served).
// Thread-safe: one mutex, held briefly by each call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ringcast/video/hls.h"
#include "ringcast/video/ts_tracker.h"

namespace ringcast::relay {

// The PAT and PMT packets of the current MPEG-TS source, as it last sent them: what a viewer
// joining at a keyframe, and every HLS segment, is sent first. Immutable and shared: a write
// that gathers it holds a reference until it completes.
struct PsiBlock {
  std::array<std::byte, 2 * TsTracker::kPacket> bytes{};
  std::size_t size = 0;
};

// An HLS segment as it can be served now: ring bytes [from, to) after the PSI prefix.
struct SegmentRead {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::shared_ptr<const PsiBlock> prefix;
};

class VideoIndex {
 public:
  // `head`: where the first source's bytes start. segment_ms: the HLS segments' target length.
  VideoIndex(std::uint32_t segment_ms, std::uint64_t head);

  // --- the writer ---
  // A new source starts at `head`: the segment still open ends at `cut_at` (wall time
  // now_unix_ms), and the old source's keyframes and tables are forgotten.
  void restart(std::uint64_t cut_at, std::uint64_t head, std::uint64_t now_unix_ms);
  // The source ended: the segment still open ends at `cut_at`.
  void end_segment(std::uint64_t cut_at, std::uint64_t now_unix_ms);
  // `bytes` were committed at `position`. Returns the newest keyframe's position when these
  // bytes brought keyframes (each may close a segment), nullopt otherwise.
  std::optional<std::uint64_t> feed(std::uint64_t position, std::span<const std::byte> bytes,
                                    std::uint64_t now_unix_ms);

  // --- any thread ---
  struct Join {
    std::uint64_t position = 0;  // the keyframe's first packet
    std::uint64_t wall_ms = 0;   // when it arrived
    std::shared_ptr<const PsiBlock> prefix;
  };
  // The newest keyframe at or after `floor`; nullopt when there is none or no tables yet (a
  // decoder could not start anyway).
  std::optional<Join> newest_keyframe(std::uint64_t floor) const;
  // The last keyframe that arrived at or before wall time `at_ms`, at or after `floor`; failing
  // that the oldest at or after `floor` (as far back as the ring holds).
  std::optional<Join> keyframe_before(std::uint64_t at_ms, std::uint64_t floor) const;
  // The live media playlist naming segments `prefix<sequence>.ts`: those starting at or after
  // `floor`, and far enough from `eviction_margin` bytes behind `head` that a player has two
  // segments' time to fetch them. nullopt: not a video stream.
  std::optional<std::string> playlist(std::uint64_t head, std::uint64_t floor,
                                      std::uint64_t eviction_margin, std::string_view prefix) const;
  // Segment `sequence` if it starts at or after `servable_from` (nullopt: gone, or not cut yet).
  std::optional<SegmentRead> segment(std::uint64_t sequence, std::uint64_t servable_from) const;

  struct Stats {
    bool video = false;  // the PMT names a video PID
    TsTracker::Codec codec = TsTracker::Codec::none;
    TsTracker::Counters counters;
    std::size_t keyframes_held = 0;
    std::size_t segments_held = 0;
    std::uint64_t window_ms = 0;  // how far back the keyframes at or after the floor reach
  };
  Stats stats(std::uint64_t floor) const;

 private:
  std::optional<Join> join_at(const std::optional<TsTracker::Keyframe>& keyframe) const;

  const std::uint32_t segment_ms_;
  mutable std::mutex mutex_;
  TsTracker tracker_{256};
  HlsSegmenter segments_;
  std::shared_ptr<const PsiBlock> psi_;
  std::uint64_t psi_versions_ = 0;  // the tracker's pat_versions + pmt_versions when psi_ was made
  std::uint64_t keyframes_seen_ = 0;
};

}  // namespace ringcast::relay
