// MP3 and ADTS frame headers (audio_frames.h), from ISO 11172-3 / 13818-3 and 13818-7.
#include "ringcast/radio/audio_frames.h"

#include "ringcast/http/http_request.h"

namespace ringcast::relay {

namespace {

unsigned at(std::span<const std::byte> bytes, std::size_t i) { return std::to_integer<unsigned>(bytes[i]); }

// kbit/s by [version is MPEG-1][layer 1..3][index 1..14].
constexpr unsigned kMpeg1Bitrates[3][15] = {
    {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
    {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
    {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
};
constexpr unsigned kMpeg2Bitrates[3][15] = {
    {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
    {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
    {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
};
constexpr unsigned kMpeg1Rates[3] = {44100, 48000, 32000};

// A header's identity: a second frame must match it to count.
unsigned mp3_identity(std::span<const std::byte> b) { return (at(b, 1) & 0x1e) << 8 | (at(b, 2) & 0x0c); }
unsigned adts_identity(std::span<const std::byte> b) { return at(b, 2) & 0xfc; }

std::size_t mp3_length(std::span<const std::byte> b) {
  if (b.size() < 4 || at(b, 0) != 0xff || (at(b, 1) & 0xe0) != 0xe0) return 0;
  const unsigned version = (at(b, 1) >> 3) & 3;  // 0: 2.5, 2: 2, 3: 1
  const unsigned layer = (at(b, 1) >> 1) & 3;    // 1: III, 2: II, 3: I
  const unsigned bitrate_index = at(b, 2) >> 4;
  const unsigned rate_index = (at(b, 2) >> 2) & 3;
  const unsigned padding = (at(b, 2) >> 1) & 1;
  if (version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3) return 0;
  const unsigned layer_row = 3 - layer;  // 0: I, 1: II, 2: III
  const unsigned kbps = version == 3 ? kMpeg1Bitrates[layer_row][bitrate_index] : kMpeg2Bitrates[layer_row][bitrate_index];
  const unsigned rate = kMpeg1Rates[rate_index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
  if (layer == 3) return (12 * kbps * 1000 / rate + padding) * 4;
  const unsigned factor = layer == 1 && version != 3 ? 72 : 144;  // Layer III, MPEG-2/2.5: half
  return factor * kbps * 1000 / rate + padding;
}

std::size_t adts_length(std::span<const std::byte> b) {
  if (b.size() < 7 || at(b, 0) != 0xff || (at(b, 1) & 0xf6) != 0xf0) return 0;  // sync, layer 0
  if (((at(b, 2) >> 2) & 0xf) > 12) return 0;  // sampling frequency index
  const std::size_t length = (at(b, 3) & 3) << 11 | at(b, 4) << 3 | at(b, 5) >> 5;
  const std::size_t header = (at(b, 1) & 1) ? 7 : 9;  // protection_absent: no CRC
  return length > header ? length : 0;
}

}  // namespace

AudioFraming audio_framing_for(std::string_view content_type) {
  for (const std::string_view mp3 : {"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg"}) {
    if (starts_with_ignoring_case(content_type, mp3)) return AudioFraming::mp3;
  }
  for (const std::string_view aac : {"audio/aac", "audio/x-aac", "audio/aacp"}) {
    if (starts_with_ignoring_case(content_type, aac)) return AudioFraming::adts;
  }
  return AudioFraming::none;
}

std::size_t frame_length(AudioFraming framing, std::span<const std::byte> bytes) {
  switch (framing) {
    case AudioFraming::mp3: return mp3_length(bytes);
    case AudioFraming::adts: return adts_length(bytes);
    case AudioFraming::none: break;
  }
  return 0;
}

std::optional<std::size_t> first_frame(AudioFraming framing, std::span<const std::byte> bytes) {
  if (framing == AudioFraming::none) return std::nullopt;
  const auto identity = framing == AudioFraming::mp3 ? mp3_identity : adts_identity;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (at(bytes, i) != 0xff) continue;
    const auto here = bytes.subspan(i);
    const std::size_t length = frame_length(framing, here);
    if (length == 0 || i + length >= bytes.size()) continue;
    const auto next = bytes.subspan(i + length);
    if (frame_length(framing, next) != 0 && identity(next) == identity(here)) return i;
  }
  return std::nullopt;
}

}  // namespace ringcast::relay
