// Removal of ICY metadata blocks from a stream read from an Icecast-style server that was asked
// for them ("Icy-MetaData: 1", answered with "icy-metaint: N"). Pure, in place: the bytes of each
// read are decoded where they landed (an edge's ring), the audio moved to the front of the span,
// the metadata kept here, so the relay's own viewers never see the origin's blocks.
//
// The wire: N audio bytes, one length byte L, L*16 bytes of metadata (NUL padded, e.g.
// "StreamTitle='Artist - Song';StreamUrl='…';"), N audio bytes, and so on. L = 0 is an empty
// block: the title is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::relay {

struct IcyFields {
  bool has_title = false;
  std::string title;
  bool has_url = false;
  std::string url;
};

// The StreamTitle and StreamUrl fields of a metadata block's text (padding ignored; the values
// end at "';", so a title may contain a quote).
IcyFields parse_icy_fields(std::string_view text);

class IcyReader {
 public:
  explicit IcyReader(std::uint32_t metaint);

  struct Result {
    std::size_t body_bytes = 0;  // audio bytes, now at the front of the span
    bool metadata = false;       // a non-empty block completed in this span: title()/url() are new
  };
  // Decodes one read in place. Never writes outside `bytes`.
  Result decode(std::span<std::byte> bytes);

  const std::string& title() const { return title_; }
  const std::string& url() const { return url_; }
  std::uint64_t blocks() const { return blocks_; }  // blocks seen, empty ones included
  std::uint64_t audio_total() const { return audio_total_; }

 private:
  std::uint32_t metaint_;
  std::uint32_t audio_left_;   // audio bytes before the next length byte
  std::size_t meta_left_ = 0;  // metadata bytes still to come in the current block
  bool in_length_ = false;     // the next byte is a length byte
  std::string block_;          // the current block's bytes so far (at most 255 * 16)
  std::string title_;
  std::string url_;
  std::uint64_t blocks_ = 0;
  std::uint64_t audio_total_ = 0;
};

}  // namespace ringcast::relay
