// The video index over generated MPEG-TS (ts_muxer.h): what it answers for joins, rewinds, HLS
// playlists and segments, fed by plain positions and wall times, with no ring and no loop.
#include "ringcast/video/video_index.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "video/ts_muxer.h"

using namespace ringcast::relay;
using namespace ringcast::test;

namespace {

constexpr std::uint32_t kSegmentMs = 2000;
constexpr std::uint64_t kBase = 1'000'000;  // the stream's first ring position

// A stream of `gops` groups, each a keyframe and three P frames, 2 s apart by PTS, with the
// tables first (unless `tables` is false).
struct Stream {
  Muxer mux;
  std::vector<std::size_t> keyframes;  // offsets in mux.out
  std::vector<std::size_t> gop_ends;   // where each group's bytes end (the next one's start)
};

Stream make_stream(int gops, bool tables = true) {
  Stream s;
  if (tables) {
    s.mux.pat(0);
    s.mux.pmt(0, kH264);
  }
  for (int g = 0; g < gops; ++g) {
    const std::uint64_t pts = 900 + static_cast<std::uint64_t>(g) * 180'000;
    s.keyframes.push_back(s.mux.video(h264_idr_with_sps(), pts, true));
    for (int p = 1; p <= 3; ++p) s.mux.video(h264_p(), pts + p * 45'000, false);
    s.gop_ends.push_back(s.mux.size());
  }
  s.mux.null();  // the last packet is believed once a next sync byte follows it
  return s;
}

// Feeds group g's bytes (and, after the last group, the closing null packet) at wall time
// 10 s + 2 s per group.
std::optional<std::uint64_t> feed_group(VideoIndex& index, const Stream& s, std::size_t g) {
  const std::size_t from = g == 0 ? 0 : s.gop_ends[g - 1];
  const std::size_t to = g + 1 == s.gop_ends.size() ? s.mux.size() : s.gop_ends[g];
  return index.feed(kBase + from, as_bytes(s.mux.out, from, to - from), 10'000 + g * 2'000);
}

std::uint64_t wall_of(std::size_t g) {
  return 10'000 + g * 2'000;
}

// An index fed every group of `s`.
std::unique_ptr<VideoIndex> fed_index(const Stream& s) {
  auto index = std::make_unique<VideoIndex>(kSegmentMs, kBase);
  for (std::size_t g = 0; g < s.gop_ends.size(); ++g) feed_group(*index, s, g);
  return index;
}

}  // namespace

TEST_CASE(
    "a join starts at the newest keyframe at or after its floor, with the source's PAT and PMT "
    "first",
    "[video]") {
  const Stream s = make_stream(3);
  VideoIndex index(kSegmentMs, kBase);
  CHECK_FALSE(index.newest_keyframe(0));
  for (std::size_t g = 0; g < 3; ++g) {
    // The feed tells the writer of a group's keyframe once the packet after it is in.
    const auto newest = feed_group(index, s, g);
    REQUIRE(newest);
    CHECK(*newest == kBase + s.keyframes[g]);
  }
  const auto join = index.newest_keyframe(0);
  REQUIRE(join);
  CHECK(join->position == kBase + s.keyframes[2]);
  CHECK(join->wall_ms == wall_of(2));
  REQUIRE(join->prefix);
  REQUIRE(join->prefix->size == 2 * 188);
  CHECK(std::equal(
      s.mux.out.begin(), s.mux.out.begin() + 2 * 188, join->prefix->bytes.begin(),
      [](std::uint8_t a, std::byte b) { return a == std::to_integer<std::uint8_t>(b); }));
  // A floor past the newest keyframe: nowhere to join.
  CHECK_FALSE(index.newest_keyframe(kBase + s.keyframes[2] + 1));
}

TEST_CASE("without the PAT and PMT a keyframe is no join point: a decoder could not start there",
          "[video]") {
  const Stream s = make_stream(2, false);
  VideoIndex index(kSegmentMs, kBase);
  feed_group(index, s, 0);
  feed_group(index, s, 1);
  CHECK_FALSE(index.newest_keyframe(0));
  CHECK_FALSE(index.keyframe_before(wall_of(1), 0));
  CHECK_FALSE(index.segment(0, 0));
}

TEST_CASE(
    "a rewind starts at the last keyframe at or before its wall time, else the oldest the floor "
    "allows",
    "[video]") {
  const Stream s = make_stream(4);
  const auto fed = fed_index(s);
  VideoIndex& index = *fed;
  CHECK(index.keyframe_before(wall_of(2), 0)->position == kBase + s.keyframes[2]);
  CHECK(index.keyframe_before(wall_of(2) + 1'999, 0)->position == kBase + s.keyframes[2]);
  CHECK(index.keyframe_before(wall_of(3) + 60'000, 0)->position == kBase + s.keyframes[3]);
  // Further back than the ring holds: as far back as it does.
  CHECK(index.keyframe_before(0, 0)->position == kBase + s.keyframes[0]);
  CHECK(index.keyframe_before(0, kBase + s.keyframes[1] + 1)->position == kBase + s.keyframes[2]);
}

TEST_CASE(
    "keyframes cut segments: the playlist lists those from the floor, a segment is served while it "
    "is "
    "servable",
    "[video]") {
  const Stream s = make_stream(4);
  const auto fed = fed_index(s);
  VideoIndex& index = *fed;
  // Four keyframes 2 s apart close three segments; the fourth is still open.
  const VideoIndex::Stats stats = index.stats(0);
  CHECK(stats.video);
  CHECK(stats.codec == TsTracker::Codec::h264);
  CHECK(stats.keyframes_held == 4);
  CHECK(stats.segments_held == 3);
  CHECK(stats.window_ms == 6'000);
  CHECK(index.stats(kBase + s.keyframes[2]).window_ms == 2'000);

  const std::uint64_t head = kBase + s.mux.size();
  const auto all = index.playlist(head, 0, 1ull << 40, "seg");
  REQUIRE(all);
  CHECK(all->find("seg0.ts") != std::string::npos);
  CHECK(all->find("seg2.ts") != std::string::npos);
  CHECK(all->find("seg3.ts") == std::string::npos);  // not closed yet
  // From a floor past the first segment's start, it is left out.
  const auto later = index.playlist(head, kBase + s.keyframes[0] + 1, 1ull << 40, "seg");
  REQUIRE(later);
  CHECK(later->find("seg0.ts") == std::string::npos);
  CHECK(later->find("seg1.ts") != std::string::npos);

  const auto first = index.segment(0, 0);
  REQUIRE(first);
  CHECK(first->from == kBase + s.keyframes[0]);
  CHECK(first->to == kBase + s.keyframes[1]);
  CHECK(first->prefix == index.newest_keyframe(0)->prefix);
  CHECK_FALSE(index.segment(0, kBase + s.keyframes[0] + 1));  // the ring may not hold it whole
  CHECK(index.segment(1, kBase + s.keyframes[0] + 1));
  CHECK_FALSE(index.segment(3, 0));
}

TEST_CASE(
    "a new source forgets the old one's keyframes and tables, and the open segment ends where it "
    "did",
    "[video]") {
  const Stream s = make_stream(3);
  const auto fed = fed_index(s);
  VideoIndex& index = *fed;
  const std::uint64_t old_end = kBase + s.mux.size();
  index.restart(old_end, old_end, wall_of(3));
  CHECK_FALSE(index.newest_keyframe(0));
  CHECK_FALSE(index.keyframe_before(wall_of(3), 0));
  // Until the new source's tables come, its keyframes are no joins and no segment is served
  // (a segment goes out after the current tables); then they are.
  CHECK_FALSE(index.segment(2, 0));
  const Stream next = make_stream(1);
  CHECK(index.feed(old_end, as_bytes(next.mux.out), wall_of(4)));
  // The segment that was open, from the last keyframe to where the old source stopped.
  const auto closed = index.segment(2, 0);
  REQUIRE(closed);
  CHECK(closed->from == kBase + s.keyframes[2]);
  CHECK(closed->to == old_end);
  const auto join = index.newest_keyframe(0);
  REQUIRE(join);
  CHECK(join->position == old_end + next.keyframes[0]);
}
