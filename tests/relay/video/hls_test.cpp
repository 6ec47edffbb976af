// HLS segmenting, the segment ring, playlist rendering and path parsing, with keyframe
// positions, PTS and wall times given as numbers: every test asserts the segments a player
// would be offered or the exact playlist text it would read.
#include "ringcast/video/hls.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocation_counter.h"

namespace ringcast::relay {
// For Catch2's messages: a failed comparison shows the segments.
std::ostream& operator<<(std::ostream& out, const HlsSegment& s) {
  return out << "{seq " << s.sequence << " [" << s.from << ", " << s.to << ") " << s.duration_ms
             << " ms @" << s.start_wall_ms << (s.discontinuity ? " disc" : "") << " dseq "
             << s.discontinuity_sequence << "}";
}
}  // namespace ringcast::relay

using namespace ringcast::relay;
using Kind = HlsPath::Kind;

namespace {

constexpr std::uint64_t kPacket = 188;
constexpr std::uint64_t kWrap = std::uint64_t{1} << 33;
constexpr std::uint64_t kWall = 1'764'683'000'123;  // 2025-12-02T13:43:20.123Z

std::vector<HlsSegment> held(const HlsSegmenter& s) {
  std::vector<HlsSegment> out;
  for (std::size_t i = 0; i < s.size(); ++i) out.push_back(s.at(i));
  return out;
}

// Keyframes every `gop_ms` (PTS and wall time agreeing), 1000 packets apart.
void feed_gops(HlsSegmenter& s, int count, std::uint64_t gop_ms, std::uint64_t first_index = 0) {
  for (std::uint64_t i = first_index; i < first_index + static_cast<std::uint64_t>(count); ++i) {
    s.on_keyframe(i * 1000 * kPacket, i * gop_ms * 90, kWall + i * gop_ms);
  }
}

// For each segment URI of a rendered playlist, its Discontinuity Sequence Number as RFC 8216
// §6.2.2 defines it: EXT-X-DISCONTINUITY-SEQUENCE plus the tags before its URI line.
std::vector<std::pair<std::string, std::uint64_t>> discontinuity_numbers(
    const std::string& playlist) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  std::istringstream lines(playlist);
  std::uint64_t number = 0;
  for (std::string line; std::getline(lines, line);) {
    const std::string tag = "#EXT-X-DISCONTINUITY-SEQUENCE:";
    if (line.starts_with(tag)) {
      number = std::stoull(line.substr(tag.size()));
    } else if (line == "#EXT-X-DISCONTINUITY") {
      ++number;
    } else if (!line.starts_with('#')) {
      out.emplace_back(line, number);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("GOPs of exactly the target make one segment each", "[hls]") {
  HlsSegmenter s(2000, 16);
  feed_gops(s, 5, 2000);
  REQUIRE(s.size() == 4);  // the fifth keyframe opens the segment still being written
  for (std::uint64_t i = 0; i < 4; ++i) {
    CHECK(s.at(i) == HlsSegment{i, i * 1000 * kPacket, (i + 1) * 1000 * kPacket, 2000,
                                kWall + i * 2000, false, 0});
  }
}

TEST_CASE("a GOP a little short of the target, by rounding, is still a segment", "[hls]") {
  HlsSegmenter s(2000, 16);
  s.on_keyframe(0, 0, kWall);
  s.on_keyframe(1000 * kPacket, 1999 * 90 + 10, kWall + 2003);  // PTS says 1999.1 ms
  REQUIRE(s.size() == 1);
  CHECK(s.at(0).duration_ms == 1999);
}

TEST_CASE("shorter GOPs are merged until the segment is at least 95% of the target", "[hls]") {
  SECTION("700 ms GOPs make 2100 ms segments") {
    HlsSegmenter s(2000, 16);
    feed_gops(s, 7, 700);  // keyframes at 0, 700, ..., 4200 ms
    const std::vector<HlsSegment> expected{
        {0, 0, 3000 * kPacket, 2100, kWall, false, 0},
        {1, 3000 * kPacket, 6000 * kPacket, 2100, kWall + 2100, false, 0}};
    CHECK(held(s) == expected);
  }
  SECTION("the boundary is 95%: 1899 ms is inside the segment, 1900 ms closes it") {
    HlsSegmenter s(2000, 16);
    s.on_keyframe(0, std::nullopt, kWall);
    s.on_keyframe(100, std::nullopt, kWall + 1899);
    CHECK(s.size() == 0);
    s.on_keyframe(200, std::nullopt, kWall + 1900);
    REQUIRE(s.size() == 1);
    CHECK(s.at(0) == HlsSegment{0, 0, 200, 1900, kWall, false, 0});
  }
}

TEST_CASE("the PTS difference is taken modulo 2^33 across the wrap", "[hls]") {
  HlsSegmenter s(2000, 16);
  s.on_keyframe(0, kWrap - 90'000, kWall);             // one second before the wrap
  s.on_keyframe(5000, 90'000, kWall + 7000);           // one second after; the clock disagrees
  s.on_keyframe(9000, kWrap + 270'000, kWall + 9000);  // bits above 33 do not count either
  REQUIRE(s.size() == 2);
  CHECK(s.at(0).duration_ms == 2000);
  CHECK(s.at(1).duration_ms == 2000);
}

TEST_CASE("without a PTS on either keyframe the wall time measures the segment", "[hls]") {
  HlsSegmenter s(2000, 16);
  s.on_keyframe(0, std::nullopt, kWall);
  s.on_keyframe(100, 900'000, kWall + 2500);  // the opening keyframe had none
  s.on_keyframe(200, std::nullopt, kWall + 4600);
  const std::vector<HlsSegment> expected{{0, 0, 100, 2500, kWall, false, 0},
                                         {1, 100, 200, 2100, kWall + 2500, false, 0}};
  CHECK(held(s) == expected);
}

TEST_CASE("a PTS step of more than 60 s is a jump, measured by wall time instead", "[hls]") {
  HlsSegmenter s(2000, 16);
  s.on_keyframe(0, 0, kWall);
  s.on_keyframe(100, 60'001 * 90, kWall + 2000);  // forward jump
  REQUIRE(s.size() == 1);
  CHECK(s.at(0).duration_ms == 2000);
  s.on_keyframe(200, 60'001 * 90 - 90, kWall + 4200);  // a step back is a jump of almost 2^33
  REQUIRE(s.size() == 2);
  CHECK(s.at(1).duration_ms == 2200);
  SECTION("60 s exactly is still believed") {
    s.on_keyframe(300, (60'001 - 1 + 60'000) * 90, kWall + 6200);
    REQUIRE(s.size() == 3);
    CHECK(s.at(2).duration_ms == 60'000);
  }
}

TEST_CASE("a source change closes the open segment there and flags the next one", "[hls]") {
  HlsSegmenter s(2000, 16);
  feed_gops(s, 2, 2000);  // segment 0 closed, one open at 1000 packets
  s.on_source_change(1500 * kPacket, kWall + 3000);
  REQUIRE(s.size() == 2);
  CHECK(s.at(1) == HlsSegment{1, 1000 * kPacket, 1500 * kPacket, 1000, kWall + 2000, false, 0});

  s.on_keyframe(1500 * kPacket, 5, kWall + 3500);  // the new source's PTS starts elsewhere
  s.on_keyframe(2500 * kPacket, 5 + 180'000, kWall + 5500);
  s.on_keyframe(3500 * kPacket, 5 + 360'000, kWall + 7500);
  REQUIRE(s.size() == 4);
  CHECK(s.at(2) == HlsSegment{2, 1500 * kPacket, 2500 * kPacket, 2000, kWall + 3500, true, 1});
  CHECK(s.at(3) == HlsSegment{3, 2500 * kPacket, 3500 * kPacket, 2000, kWall + 5500, false, 1});
}

TEST_CASE("a source change drops an open segment without bytes or duration, and still flags",
          "[hls]") {
  HlsSegmenter s(2000, 16);
  SECTION("no bytes") {
    s.on_keyframe(100, 0, kWall);
    s.on_source_change(100, kWall + 500);
  }
  SECTION("no wall time") {
    s.on_keyframe(100, 0, kWall);
    s.on_source_change(900, kWall);
  }
  SECTION("nothing open") {
    s.on_source_change(900, kWall);
  }
  CHECK(s.size() == 0);
  s.on_keyframe(1000, 0, kWall + 1000);
  s.on_keyframe(2000, 180'000, kWall + 3000);
  REQUIRE(s.size() == 1);
  CHECK(s.at(0) == HlsSegment{0, 1000, 2000, 2000, kWall + 1000, true, 1});
}

TEST_CASE("discontinuity_sequence counts the flagged segments closed so far", "[hls]") {
  HlsSegmenter s(2000, 16);
  for (std::uint64_t source = 0; source < 3; ++source) {
    const std::uint64_t base = source * 10'000;
    s.on_keyframe(base, 0, kWall + base);
    s.on_keyframe(base + 1000, 180'000, kWall + base + 2000);
    s.on_keyframe(base + 2000, 360'000, kWall + base + 4000);
    s.on_source_change(base + 3000, kWall + base + 5000);
  }
  // Per source: two segments cut at keyframes, one closed by the change.
  REQUIRE(s.size() == 9);
  const std::vector<bool> flags{false, false, false, true, false, false, true, false, false};
  const std::vector<std::uint64_t> numbers{0, 0, 0, 1, 1, 1, 2, 2, 2};
  for (std::size_t i = 0; i < 9; ++i) {
    CHECK(s.at(i).discontinuity == flags[i]);
    CHECK(s.at(i).discontinuity_sequence == numbers[i]);
  }
}

TEST_CASE("reset() drops every segment, and sequence numbers keep growing", "[hls]") {
  HlsSegmenter s(2000, 16);
  feed_gops(s, 3, 2000);
  REQUIRE(s.size() == 2);
  s.reset();
  CHECK(s.size() == 0);
  CHECK_FALSE(s.find(0).has_value());
  CHECK_FALSE(s.find(1).has_value());
  CHECK(s.longest_ms() == 0);
  // The segment open before reset() is gone too: the next keyframe opens a new one.
  feed_gops(s, 2, 2500, 10);
  REQUIRE(s.size() == 1);
  CHECK(s.at(0) ==
        HlsSegment{2, 10'000 * kPacket, 11'000 * kPacket, 2500, kWall + 25'000, true, 1});
  CHECK(s.find(2) == s.at(0));
}

TEST_CASE("the ring keeps the newest segments and forgets the dropped ones", "[hls]") {
  HlsSegmenter s(1000, 3);
  const std::uint64_t durations[] = {5000, 1000, 1200, 1100, 1300};  // the longest goes first
  std::uint64_t wall = kWall;
  s.on_keyframe(0, std::nullopt, wall);
  for (std::uint64_t i = 0; i < 5; ++i) {
    wall += durations[i];
    s.on_keyframe((i + 1) * 100, std::nullopt, wall);
    if (i == 0) CHECK(s.longest_ms() == 5000);
  }
  REQUIRE(s.size() == 3);
  CHECK(s.at(0).sequence == 2);
  CHECK(s.at(2).sequence == 4);
  CHECK(s.longest_ms() == 1300);
  CHECK_FALSE(s.find(0).has_value());
  CHECK_FALSE(s.find(1).has_value());
  CHECK(s.find(2) == HlsSegment{2, 200, 300, 1200, kWall + 6000, false, 0});
  CHECK(s.find(4) == s.at(2));
  CHECK_FALSE(s.find(5).has_value());
}

TEST_CASE("the segmenter rejects a zero target or capacity", "[hls]") {
  CHECK_THROWS_AS(HlsSegmenter(0, 8), std::invalid_argument);
  CHECK_THROWS_AS(HlsSegmenter(2000, 0), std::invalid_argument);
}

TEST_CASE("cutting segments allocates nothing once constructed", "[hls]") {
  HlsSegmenter s(2000, 8);
  const std::uint64_t before = allocations_so_far();
  for (std::uint64_t i = 0; i < 100; ++i) {
    s.on_keyframe(i * 1000, i * 90'000, kWall + i * 1000);
    if (i % 30 == 29) s.on_source_change(i * 1000 + 500, kWall + i * 1000 + 400);
  }
  const auto found = s.find(s.at(s.size() - 1).sequence);
  const auto longest = s.longest_ms();
  s.reset();
  const std::uint64_t after = allocations_so_far();
  CHECK(after == before);
  CHECK(found.has_value());
  CHECK(longest == 2000);
}

TEST_CASE("listable segments are the newest run that starts at or after min_from", "[hls]") {
  HlsSegmenter s(2000, 16);
  feed_gops(s, 5, 2000);  // segments from 0, 1000, 2000, 3000 packets
  CHECK(listable_segments(s, 0) == held(s));
  const auto newest_two = listable_segments(s, 1500 * kPacket);
  REQUIRE(newest_two.size() == 2);
  CHECK(newest_two[0].sequence == 2);
  CHECK(newest_two[1].sequence == 3);
  CHECK(listable_segments(s, 2000 * kPacket).size() == 2);  // from == min_from is listable
  CHECK(listable_segments(s, 4000 * kPacket).empty());
  CHECK(listable_segments(HlsSegmenter(), 0).empty());
}

TEST_CASE("the playlist lists segments with a discontinuity tag before a flagged one", "[hls]") {
  const std::vector<HlsSegment> segments{{7, 0, 100, 2000, kWall, false, 0},
                                         {8, 100, 200, 2100, kWall + 2000, true, 1},
                                         {9, 200, 300, 1950, kWall + 4100, false, 1}};
  CHECK(render_media_playlist(segments, 2000, "") ==
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-02T13:43:20.123Z\n"
        "#EXTINF:2.000,\n"
        "7.ts\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-02T13:43:22.123Z\n"
        "#EXTINF:2.100,\n"
        "8.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-02T13:43:24.223Z\n"
        "#EXTINF:1.950,\n"
        "9.ts\n");

  SECTION("a flagged first segment is counted in EXT-X-DISCONTINUITY-SEQUENCE, untagged") {
    CHECK(render_media_playlist(std::span(segments).subspan(1), 2000, "/live.ts/") ==
          "#EXTM3U\n"
          "#EXT-X-VERSION:3\n"
          "#EXT-X-TARGETDURATION:2\n"
          "#EXT-X-MEDIA-SEQUENCE:8\n"
          "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
          "#EXT-X-PROGRAM-DATE-TIME:2025-12-02T13:43:22.123Z\n"
          "#EXTINF:2.100,\n"
          "/live.ts/8.ts\n"
          "#EXT-X-PROGRAM-DATE-TIME:2025-12-02T13:43:24.223Z\n"
          "#EXTINF:1.950,\n"
          "/live.ts/9.ts\n");
  }
  SECTION("an unflagged first segment after earlier discontinuities carries their count") {
    const std::string playlist = render_media_playlist(std::span(segments).subspan(2), 2000, "");
    CHECK(playlist.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n") != std::string::npos);
    CHECK(playlist.find("#EXT-X-DISCONTINUITY\n") == std::string::npos);
  }
}

TEST_CASE("an empty playlist names sequence 0 and the target", "[hls]") {
  CHECK(render_media_playlist({}, 2000, "") ==
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n");
}

TEST_CASE("EXT-X-TARGETDURATION is the longest segment rounded to the nearest second", "[hls]") {
  const auto target_line = [](std::uint32_t duration_ms, std::uint32_t target_ms) {
    const HlsSegment segment{0, 0, 1, duration_ms, kWall, false, 0};
    const std::string playlist = render_media_playlist(std::span(&segment, 1), target_ms, "");
    const auto at = playlist.find("#EXT-X-TARGETDURATION:");
    return playlist.substr(at, playlist.find('\n', at) - at);
  };
  CHECK(target_line(2400, 2000) == "#EXT-X-TARGETDURATION:2");
  CHECK(target_line(2499, 2000) == "#EXT-X-TARGETDURATION:2");
  CHECK(target_line(2500, 2000) == "#EXT-X-TARGETDURATION:3");
  CHECK(target_line(2600, 2000) == "#EXT-X-TARGETDURATION:3");
  CHECK(target_line(6000, 2000) == "#EXT-X-TARGETDURATION:6");
  CHECK(target_line(1000, 2500) == "#EXT-X-TARGETDURATION:3");  // the target rounds up
  CHECK(target_line(300, 400) == "#EXT-X-TARGETDURATION:1");    // at least one second
}

TEST_CASE("each segment keeps its discontinuity sequence number as the window slides", "[hls]") {
  HlsSegmenter s(2000, 64);
  std::uint64_t position = 0;
  std::uint64_t wall = kWall;
  for (int source = 0; source < 4; ++source) {
    for (int gop = 0; gop < 3 + source; ++gop) {
      s.on_keyframe(position, std::nullopt, wall);
      position += 1000;
      wall += 2000;
    }
    s.on_source_change(position, wall);
  }
  const auto all = listable_segments(s, 0);
  const auto reference = discontinuity_numbers(render_media_playlist(all, 2000, ""));
  REQUIRE(reference.size() == all.size());
  for (std::size_t first = 1; first < all.size(); ++first) {
    const auto window =
        discontinuity_numbers(render_media_playlist(std::span(all).subspan(first), 2000, ""));
    REQUIRE(window.size() == all.size() - first);
    for (std::size_t i = 0; i < window.size(); ++i) CHECK(window[i] == reference[first + i]);
  }
  CHECK(reference.back().second == 3);
}

TEST_CASE("program date-times are UTC with milliseconds", "[hls]") {
  // Expected values from `date -u -d @<seconds>`.
  CHECK(format_program_date_time(1'764'683'000'123) == "2025-12-02T13:43:20.123Z");
  CHECK(format_program_date_time(1'796'218'967'123) == "2026-12-02T13:42:47.123Z");
  CHECK(format_program_date_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_program_date_time(951'868'799'999) == "2000-02-29T23:59:59.999Z");
  CHECK(format_program_date_time(4'102'444'799'007) == "2099-12-31T23:59:59.007Z");
}

TEST_CASE("segment names are a plain decimal sequence and .ts", "[hls]") {
  CHECK(parse_segment_name("123.ts") == 123u);
  CHECK(parse_segment_name("0.ts") == 0u);
  CHECK(parse_segment_name("9999999999999999999.ts") == 9'999'999'999'999'999'999u);
  for (const char* bad : {"", ".ts", "12a.ts", "-1.ts", "+1.ts", "1.ts.ts", "01.ts", "00.ts",
                          "10000000000000000000.ts", "12.TS", "12", "12.m3u8", " 1.ts", "1.ts "}) {
    INFO(bad);
    CHECK_FALSE(parse_segment_name(bad).has_value());
  }
}

TEST_CASE("HLS paths name a mount and its playlist or one of its segments", "[hls]") {
  CHECK(parse_hls_path("/live.ts/index.m3u8") == HlsPath{"/live.ts", Kind::playlist});
  CHECK(parse_hls_path("/live.ts/17.ts") == HlsPath{"/live.ts", Kind::segment, 17});
  CHECK(parse_hls_path("/a/b/index.m3u8") == HlsPath{"/a/b", Kind::playlist});
  CHECK(parse_hls_path("/a/b/0.ts") == HlsPath{"/a/b", Kind::segment, 0});
  for (const char* bad :
       {"", "/index.m3u8", "//index.m3u8", "/0.ts", "live.ts/index.m3u8", "/live.ts/", "/live.ts",
        "/live.ts/index.m3u", "/live.ts/017.ts", "/live.ts/x.ts"}) {
    INFO(bad);
    CHECK_FALSE(parse_hls_path(bad).has_value());
  }
}
