// MP3 and ADTS frame headers, over generated frames and garbage.
#include "ringcast/radio/audio_frames.h"

#include <catch2/catch.hpp>
#include <random>
#include <vector>

using namespace ringcast::relay;

namespace {

// One MP3 frame: MPEG-1 Layer III, 128 kbit/s, 44.1 kHz (417 bytes, 418 padded).
std::vector<std::byte> mp3_frame(bool padded = false) {
  std::vector<std::byte> frame(padded ? 418 : 417, std::byte{0x55});
  frame[0] = std::byte{0xff};
  frame[1] = std::byte{0xfb};
  frame[2] = std::byte{static_cast<unsigned char>(padded ? 0x92 : 0x90)};
  frame[3] = std::byte{0x64};
  return frame;
}

// One ADTS frame of `length` bytes (AAC LC, 44.1 kHz, stereo, no CRC).
std::vector<std::byte> adts_frame(std::size_t length) {
  std::vector<std::byte> frame(length, std::byte{0x21});
  frame[0] = std::byte{0xff};
  frame[1] = std::byte{0xf1};
  frame[2] = std::byte{0x50};
  frame[3] = std::byte{static_cast<unsigned char>(0x80 | (length >> 11))};
  frame[4] = std::byte{static_cast<unsigned char>(length >> 3)};
  frame[5] = std::byte{static_cast<unsigned char>(((length & 7) << 5) | 0x1f)};
  frame[6] = std::byte{0xfc};
  return frame;
}

void append(std::vector<std::byte>& to, const std::vector<std::byte>& bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

}  // namespace

TEST_CASE("content types name their audio framing", "[audio]") {
  CHECK(audio_framing_for("audio/mpeg") == AudioFraming::mp3);
  CHECK(audio_framing_for("audio/MPEG; charset=x") == AudioFraming::mp3);
  CHECK(audio_framing_for("audio/aacp") == AudioFraming::adts);
  CHECK(audio_framing_for("audio/aac") == AudioFraming::adts);
  CHECK(audio_framing_for("audio/ogg") == AudioFraming::none);
  CHECK(audio_framing_for("video/mp2t") == AudioFraming::none);
}

TEST_CASE("MP3 frame lengths follow the header's version, layer, bit rate and padding", "[audio]") {
  CHECK(frame_length(AudioFraming::mp3, mp3_frame()) == 417);
  CHECK(frame_length(AudioFraming::mp3, mp3_frame(true)) == 418);
  auto frame = mp3_frame();
  frame[1] = std::byte{0xf3};  // MPEG-2 Layer III, 22.05 kHz, 64 kbit/s (index 8)
  frame[2] = std::byte{0x80};
  CHECK(frame_length(AudioFraming::mp3, frame) == 72 * 64000 / 22050);
  frame[2] = std::byte{0xf0};  // bit rate index 15: invalid
  CHECK(frame_length(AudioFraming::mp3, frame) == 0);
  frame[1] = std::byte{0xe9};  // version 01: reserved
  frame[2] = std::byte{0x90};
  CHECK(frame_length(AudioFraming::mp3, frame) == 0);
}

TEST_CASE("the first frame is the first header that another header follows one frame later", "[audio]") {
  const auto seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 random(seed);
  SECTION("MP3 after garbage holding false syncs") {
    std::vector<std::byte> bytes;
    for (int i = 0; i < 300; ++i) bytes.push_back(std::byte{static_cast<unsigned char>(random())});
    bytes[10] = std::byte{0xff};  // a false sync: a plausible header, but no frame after it
    bytes[11] = std::byte{0xfb};
    bytes[12] = std::byte{0x90};
    const std::size_t start = bytes.size();
    append(bytes, mp3_frame());
    append(bytes, mp3_frame(true));
    append(bytes, mp3_frame());
    const auto found = first_frame(AudioFraming::mp3, bytes);
    REQUIRE(found);
    CHECK(*found <= start);
    CHECK(frame_length(AudioFraming::mp3, std::span(bytes).subspan(*found)) != 0);
    if (*found != start) {
      // Garbage may, rarely, hold a real-looking header one frame before ours: then it is that.
      CHECK(*found + frame_length(AudioFraming::mp3, std::span(bytes).subspan(*found)) <= start + 417);
    }
  }
  SECTION("ADTS") {
    std::vector<std::byte> bytes(37, std::byte{0});
    append(bytes, adts_frame(371));
    append(bytes, adts_frame(402));
    CHECK(first_frame(AudioFraming::adts, bytes) == 37u);
    CHECK(frame_length(AudioFraming::adts, adts_frame(371)) == 371);
  }
  SECTION("no second header: no frame") {
    const auto frame = mp3_frame();
    CHECK(!first_frame(AudioFraming::mp3, frame));
    CHECK(!first_frame(AudioFraming::none, frame));
  }
}
