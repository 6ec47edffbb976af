// MP3 and AAC (ADTS) frame headers, so that a listener's stream starts on a frame: where a new
// listener joins and where a moved one (fallback, moveclients) picks up the other mount. Pure:
// bytes in, an offset out. A header is believed only when the next frame's header follows it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ringcast::relay {

enum class AudioFraming { none, mp3, adts };

// From the content type: audio/mpeg (MP3; also audio/mp3, audio/mpeg3), audio/aac, audio/aacp
// and audio/x-aac (ADTS). Anything else: none.
AudioFraming audio_framing_for(std::string_view content_type);

// The length of the frame whose header starts `bytes` (0: not a valid header there).
std::size_t frame_length(AudioFraming framing, std::span<const std::byte> bytes);

// The offset of the first frame in `bytes` whose header is followed, one frame later, by another
// valid header of the same kind; nullopt when there is none within the bytes.
std::optional<std::size_t> first_frame(AudioFraming framing, std::span<const std::byte> bytes);

}  // namespace ringcast::relay
