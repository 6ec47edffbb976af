// Ring sizing by time: what a mount's ring holds follows the rate its source declares, or a
// guess by content type, and an explicit size wins.
#include <catch2/catch.hpp>

#include "ringcast/net/stream.h"

using namespace ringcast::relay;

namespace {
StreamMetadata source(std::string content_type, std::vector<std::pair<std::string, std::string>> headers = {}) {
  StreamMetadata metadata;
  metadata.content_type = PeerText::from(content_type);
  for (const auto& [name, value] : headers) metadata.ice_headers.emplace_back(PeerText::from(name), PeerText::from(value));
  return metadata;
}
}  // namespace

TEST_CASE("a source's declared bit rate is read from the headers encoders send", "[ring_sizing]") {
  CHECK(declared_kbps(source("audio/mpeg", {{"ice-bitrate", "128"}})) == 128);
  CHECK(declared_kbps(source("audio/mpeg", {{"icy-br", "64"}})) == 64);
  CHECK(declared_kbps(source("audio/aac", {{"Ice-Audio-Info", "ice-samplerate=44100;ice-bitrate=96;ice-channels=2"}})) == 96);
  CHECK(declared_kbps(source("audio/ogg", {{"ice-audio-info", "channels=2;samplerate=48000;bitrate=192"}})) == 192);
  CHECK(declared_kbps(source("video/mp2t")) == 0);
  CHECK(declared_kbps(source("audio/mpeg", {{"ice-bitrate", "fast"}})) == 0);
}

TEST_CASE("a mount's ring holds --ring-seconds of its rate, within bounds", "[ring_sizing]") {
  RingSizing sizing;  // 10 s (30 s for MPEG-TS), 512 KiB to 64 MiB
  SECTION("128 kbit/s radio: 160 KB of stream, the 512 KiB floor") {
    CHECK(ring_bytes_for(sizing, source("audio/mpeg", {{"ice-bitrate", "128"}})) == 512 * 1024);
  }
  SECTION("an 8 Mbit/s declared MPEG-TS stream: 30 s are 30 MB, rounded up to 32 MiB") {
    CHECK(ring_bytes_for(sizing, source("video/mp2t", {{"ice-bitrate", "8000"}})) == 32u << 20);
    sizing.seconds = 10;  // set explicitly: it holds for MPEG-TS too
    CHECK(ring_bytes_for(sizing, source("video/mp2t", {{"ice-bitrate", "8000"}})) == 16u << 20);
  }
  SECTION("nothing declared: audio is guessed at 320 kbit/s, anything else at 3.2 Mbit/s") {
    CHECK(ring_bytes_for(sizing, source("audio/mpeg")) == 512 * 1024);
    CHECK(ring_bytes_for(sizing, source("video/mp2t")) == 16u << 20);  // 12 MB over 30 s
    CHECK(ring_bytes_for(sizing, source("application/octet-stream")) == 4u << 20);
  }
  SECTION("a longer window costs memory in proportion") {
    sizing.seconds = 120;
    CHECK(ring_bytes_for(sizing, source("audio/mpeg", {{"ice-bitrate", "128"}})) == 2u << 20);
  }
  SECTION("absurd declared rates stay within the ceiling") {
    CHECK(ring_bytes_for(sizing, source("video/mp2t", {{"ice-bitrate", "999999999"}})) == 64u << 20);
  }
  SECTION("an explicit size wins, rounded up to a power of two") {
    sizing.explicit_bytes = 3 << 20;
    CHECK(ring_bytes_for(sizing, source("audio/mpeg", {{"ice-bitrate", "128"}})) == 4u << 20);
  }
}

TEST_CASE("MPEG-TS is recognised by its content type, whatever its case", "[ring_sizing]") {
  CHECK(is_mpeg_ts("video/mp2t"));
  CHECK(is_mpeg_ts("video/MP2T"));
  CHECK(is_mpeg_ts("video/mpegts"));
  CHECK_FALSE(is_mpeg_ts("audio/mpeg"));
}
