#include "ringcast/video/video_index.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ringcast::relay {

VideoIndex::VideoIndex(std::uint32_t segment_ms, std::uint64_t head)
    : segment_ms_(segment_ms), segments_(segment_ms) {
  tracker_.reset(head);
}

void VideoIndex::restart(std::uint64_t cut_at, std::uint64_t head, std::uint64_t now_unix_ms) {
  std::lock_guard lock(mutex_);
  segments_.on_source_change(cut_at, now_unix_ms);
  tracker_.reset(head);
  psi_.reset();
  psi_versions_ = 0;
}

void VideoIndex::end_segment(std::uint64_t cut_at, std::uint64_t now_unix_ms) {
  std::lock_guard lock(mutex_);
  segments_.on_source_change(cut_at, now_unix_ms);
}

std::optional<std::uint64_t> VideoIndex::feed(std::uint64_t position,
                                              std::span<const std::byte> bytes,
                                              std::uint64_t now_unix_ms) {
  std::lock_guard lock(mutex_);
  tracker_.feed(position, bytes, now_unix_ms);
  const TsTracker::Counters& counters = tracker_.counters();
  std::optional<std::uint64_t> newest;
  if (counters.keyframes != keyframes_seen_) {
    // Each new keyframe may close an HLS segment (one feed may bring several).
    const std::size_t fresh =
        std::min<std::uint64_t>(counters.keyframes - keyframes_seen_, tracker_.keyframe_count());
    for (std::size_t i = tracker_.keyframe_count() - fresh; i < tracker_.keyframe_count(); ++i) {
      const TsTracker::Keyframe keyframe = tracker_.keyframe_at(i);
      segments_.on_keyframe(keyframe.position,
                            keyframe.has_pts ? std::optional(keyframe.pts_90k) : std::nullopt,
                            keyframe.wall_ms);
    }
    keyframes_seen_ = counters.keyframes;
    if (tracker_.keyframe_count() > 0)
      newest = tracker_.keyframe_at(tracker_.keyframe_count() - 1).position;
  }
  const std::uint64_t versions = counters.pat_versions + counters.pmt_versions;
  if (versions != psi_versions_ && !tracker_.pat().empty() && !tracker_.pmt().empty()) {
    // A new table: rare (a source's first, or a change), so one allocation is fine here.
    auto psi = std::make_shared<PsiBlock>();
    std::memcpy(psi->bytes.data(), tracker_.pat().data(), TsTracker::kPacket);
    std::memcpy(psi->bytes.data() + TsTracker::kPacket, tracker_.pmt().data(), TsTracker::kPacket);
    psi->size = 2 * TsTracker::kPacket;
    psi_ = std::move(psi);
    psi_versions_ = versions;
  }
  return newest;
}

std::optional<VideoIndex::Join> VideoIndex::join_at(
    const std::optional<TsTracker::Keyframe>& keyframe) const {
  if (!keyframe || !psi_) return std::nullopt;
  return Join{keyframe->position, keyframe->wall_ms, psi_};
}

std::optional<VideoIndex::Join> VideoIndex::newest_keyframe(std::uint64_t floor) const {
  std::lock_guard lock(mutex_);
  return join_at(tracker_.newest_keyframe(floor));
}

std::optional<VideoIndex::Join> VideoIndex::keyframe_before(std::uint64_t at_ms,
                                                            std::uint64_t floor) const {
  std::lock_guard lock(mutex_);
  std::optional<TsTracker::Keyframe> keyframe = tracker_.keyframe_before(at_ms, floor);
  if (!keyframe) keyframe = tracker_.oldest_keyframe(floor);
  return join_at(keyframe);
}

std::optional<std::string> VideoIndex::playlist(std::uint64_t head, std::uint64_t floor,
                                                std::uint64_t eviction_margin,
                                                std::string_view prefix) const {
  std::vector<HlsSegment> listed;
  std::uint32_t target_ms = 0;
  {
    std::lock_guard lock(mutex_);
    if (tracker_.video_pid() == TsTracker::kNoPid && segments_.size() == 0) return std::nullopt;
    // Listed: what the ring will hold a while yet, at least two segments' worth before a
    // reader of it would be evicted.
    std::uint64_t longest_bytes = 0;
    for (std::size_t i = 0; i < segments_.size(); ++i) {
      const HlsSegment& segment = segments_.at(i);
      longest_bytes = std::max(longest_bytes, segment.to - segment.from);
    }
    if (head + 2 * longest_bytes > eviction_margin)
      floor = std::max(floor, head + 2 * longest_bytes - eviction_margin);
    listed = listable_segments(segments_, floor);
    // EXT-X-TARGETDURATION must not change over the playlist's life: the longest segment the
    // mount has held, not only the listed ones.
    target_ms = std::max(segment_ms_, (segments_.longest_ms() + 499) / 1000 * 1000);
  }
  return render_media_playlist(listed, target_ms, prefix);
}

std::optional<SegmentRead> VideoIndex::segment(std::uint64_t sequence,
                                               std::uint64_t servable_from) const {
  std::lock_guard lock(mutex_);
  const auto segment = segments_.find(sequence);
  if (!segment || !psi_ || segment->from < servable_from) return std::nullopt;
  return SegmentRead{segment->from, segment->to, psi_};
}

VideoIndex::Stats VideoIndex::stats(std::uint64_t floor) const {
  Stats stats;
  std::lock_guard lock(mutex_);
  stats.video = tracker_.video_pid() != TsTracker::kNoPid;
  stats.codec = tracker_.video_codec();
  stats.counters = tracker_.counters();
  stats.keyframes_held = tracker_.keyframe_count();
  stats.segments_held = segments_.size();
  if (const auto oldest = tracker_.oldest_keyframe(floor);
      oldest && tracker_.keyframe_count() > 0) {
    stats.window_ms = tracker_.keyframe_at(tracker_.keyframe_count() - 1).wall_ms - oldest->wall_ms;
  }
  return stats;
}

}  // namespace ringcast::relay
