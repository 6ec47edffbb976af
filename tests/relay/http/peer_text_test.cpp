// PeerText: whatever bytes a peer sends, what is stored is valid UTF-8, free of control
// characters and bounded, and text that already was fine is kept as it was.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <random>

#include "ringcast/video/hls.h"
#include "ringcast/video/hls_sessions.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/net/stats.h"
#include "ringcast/net/stream.h"

using namespace ringcast::relay;

TEST_CASE("valid UTF-8 from a peer is kept as it is", "[peer_text]") {
  CHECK(PeerText::from("audio/mpeg") == "audio/mpeg");
  CHECK(PeerText::from("Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xB5") == "Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xB5");
  CHECK(PeerText::from("").empty());
}

TEST_CASE("text that is not UTF-8 is read as ISO-8859-1, as Icecast reads metadata", "[peer_text]") {
  CHECK(PeerText::from("audio/mpeg; name=caf\xE9") == "audio/mpeg; name=caf\xC3\xA9");
  CHECK(PeerText::from("\xFF") == "\xC3\xBF");
  // One bad byte makes the whole text Latin-1: a valid sequence beside it is not kept apart.
  CHECK(PeerText::from("\xC3\xA9\xE9") == "\xC3\x83\xC2\xA9\xC3\xA9");
}

TEST_CASE("control characters are dropped: no NUL, no line end, no terminal escape", "[peer_text]") {
  CHECK(PeerText::from(std::string_view("a\0b", 3)) == "ab");
  CHECK(PeerText::from("one\r\ntwo\tthree\x7F\x1B[31m") == "onetwothree[31m");
}

TEST_CASE("peer text is cut to its limit, never inside a character", "[peer_text]") {
  CHECK(PeerText::from(std::string(100'000, 'x')).str().size() == PeerText::kDefaultLimit);
  CHECK(PeerText::from("ab\xC3\xA9", 3) == "ab");
  CHECK(PeerText::from("\xF0\x9F\x8E\xB5\xF0\x9F\x8E\xB5", 7) == "\xF0\x9F\x8E\xB5");
  // Latin-1 doubles: 600 bytes of \xE9 become 1200, cut to 1024 (512 characters).
  CHECK(PeerText::from(std::string(600, '\xE9')).str() == [] {
    std::string expected;
    for (int i = 0; i < 512; ++i) expected += "\xC3\xA9";
    return expected;
  }());
}

TEST_CASE("any bytes at all become valid, bounded UTF-8 without control characters", "[peer_text]") {
  const auto seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 random(seed);
  for (int round = 0; round < 2000; ++round) {
    std::string raw(random() % 300, '\0');
    for (char& c : raw) c = static_cast<char>(random() % 256);
    const std::size_t limit = 1 + random() % 200;
    const PeerText text = PeerText::from(raw, limit);
    REQUIRE(utf8::is_valid(text.str()));
    REQUIRE(text.str().size() <= limit);
    for (char c : text.str()) REQUIRE((static_cast<unsigned char>(c) >= 0x20 && c != 0x7F));
    REQUIRE(PeerText::from(text.str(), limit) == text);  // sanitising twice changes nothing
  }
}

TEST_CASE("rewind takes a plain number of seconds from 0 to 86400", "[peer_text][hls]") {
  CHECK(parse_rewind_seconds("12") == 12.0);
  CHECK(parse_rewind_seconds("2.5") == 2.5);
  CHECK(parse_rewind_seconds("0") == 0.0);
  CHECK(parse_rewind_seconds("86400") == 86400.0);
  for (std::string_view bad : {"", ".", "-1", "+1", "1e3", "0x10", "nan", "inf", " 1", "1 ", "1.2.3",
                               "86400.5", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rewind_seconds(bad).has_value());
  }
}

TEST_CASE("HLS sessions expire by prune(), and the table is bounded", "[peer_text][hls]") {
  HlsSessions sessions;
  CHECK(sessions.touch("10.0.0.1", 1000));
  CHECK_FALSE(sessions.touch("10.0.0.1", 2000));
  CHECK(sessions.touch("10.0.0.2", 2000));
  CHECK(sessions.active(2000) == 2);
  sessions.prune(2000 + HlsSessions::kTimeoutMs - 1);
  CHECK(sessions.held() == 2);
  sessions.prune(2000 + HlsSessions::kTimeoutMs);
  CHECK(sessions.held() == 0);
  CHECK(sessions.started() == 2);

  for (std::size_t i = 0; i < HlsSessions::kMaxSessions; ++i) sessions.touch(std::to_string(i), 5000);
  CHECK(sessions.held() == HlsSessions::kMaxSessions);
  CHECK_FALSE(sessions.touch("one too many", 5000));
  CHECK(sessions.untracked() == 1);
  CHECK_FALSE(sessions.touch("0", 6000));  // a held address is still served and tracked
  CHECK(sessions.held() == HlsSessions::kMaxSessions);
  sessions.prune(5000 + HlsSessions::kTimeoutMs);
  CHECK(sessions.held() == 1);
  CHECK(sessions.touch("one too many", 5000 + HlsSessions::kTimeoutMs));
}

// /stats and /metrics, rendered from mounts whose every peer-controlled field is random bytes
// (as stored: through PeerText): the JSON parses strictly, the exposition is UTF-8 lines.
TEST_CASE("/stats and /metrics render any stored peer text as valid JSON and Prometheus text",
          "[peer_text]") {
  const auto seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 random(seed);
  const auto bytes = [&](std::size_t max) {
    std::string raw(random() % max, '\0');
    for (char& c : raw) c = static_cast<char>(random() % 256);
    return raw;
  };
  for (int round = 0; round < 50; ++round) {
    std::vector<std::shared_ptr<Stream>> streams;
    for (int m = 0; m < 3; ++m) {
      auto stream = std::make_shared<Stream>("/m" + std::to_string(m) + ".mp3", FanoutSettings{}, 1 << 16, 1);
      StreamMetadata metadata;
      metadata.content_type = PeerText::from(bytes(300), 256);
      for (int h = 0; h < 4; ++h) {
        metadata.ice_headers.emplace_back(PeerText::from("ice-" + bytes(20), 64), PeerText::from(bytes(2000)));
      }
      metadata.user_agent = PeerText::from(bytes(300), 256);
      stream->attach_source(0, std::move(metadata));
      stream->set_title(PeerText::from(bytes(5000), 4096), PeerText::from(bytes(100)), 1);
      streams.push_back(std::move(stream));
    }
    WorkerCounters counters;
    EndedTotals ended;
    const StatsInput input{{&counters}, 0, 0, ended, streams, 1000, "test", 0, {}, "test"};
    const std::string stats = render_stats_json(input);
    REQUIRE_NOTHROW(nlohmann::json::parse(stats));
    const std::string metrics = render_metrics_text(input);
    REQUIRE(utf8::is_valid(metrics));
    REQUIRE(metrics.ends_with('\n'));
    std::size_t start = 0;
    while (start < metrics.size()) {
      const std::size_t end = metrics.find('\n', start);
      const std::string_view line(metrics.data() + start, end - start);
      if (!line.starts_with('#')) {
        const std::size_t space = line.rfind(' ');
        REQUIRE(space != std::string_view::npos);
        const std::string_view series = line.substr(0, space);
        REQUIRE((series.find('{') == std::string_view::npos || series.back() == '}'));
      }
      start = end + 1;
    }
  }
}
