// libFuzzer target for what an origin sends an edge: its answer head (parse_response_head, fed a
// growing prefix as the pull reads it) and the body's ICY blocks taken out in place (IcyReader),
// for any split into reads. The reader's audio must equal a plain reference's that copies, it
// never writes outside a read's span, and the titles it reports are the last block's.
//
// Input: byte 0 holds the ICY interval's choice (low 3 bits: 1..8 bytes, or 16,000 when 0) and
// the number of reads before the last (high 4 bits); the next `reads` bytes are those reads'
// sizes; the rest is what the origin sent. The head parser sees the whole of it as well.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "in_place_reads.h"
#include "ringcast/http/http_response.h"
#include "ringcast/radio/icy_reader.h"

namespace {

using ringcast::relay::IcyReader;
using ringcast::relay::parse_icy_fields;
using ringcast::relay::parse_response_head;
using ringcast::relay::ResponseHead;
using ringcast::relay::ResponseParseStatus;

// The reference: the audio bytes of the whole stream, and the last block's title, if any.
struct Reference {
  std::string audio;
  bool has_title = false;
  std::string title;
};

Reference reference_decode(std::string_view in, std::uint32_t metaint) {
  Reference out;
  for (;;) {
    const std::size_t take = std::min<std::size_t>(metaint, in.size());
    out.audio.append(in.substr(0, take));
    in.remove_prefix(take);
    if (in.empty()) return out;
    const std::size_t length = static_cast<unsigned char>(in.front()) * std::size_t{16};
    in.remove_prefix(1);
    if (in.size() < length) return out;  // the block has not ended
    if (length > 0) {
      const auto fields = parse_icy_fields(in.substr(0, length));
      if (fields.has_title) {
        out.has_title = true;
        out.title = fields.title;
      }
    }
    in.remove_prefix(length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned choice = data[0] & 0x07;
  const std::uint32_t metaint = choice == 0 ? 16'000 : choice;
  const std::size_t reads = std::min<std::size_t>(data[0] >> 4, size - 1);
  const std::uint8_t* read_sizes = data + 1;
  const std::string_view wire(reinterpret_cast<const char*>(data + 1 + reads), size - 1 - reads);

  // The head, read as it grows: a verdict once given never changes with more bytes.
  ResponseHead head;
  ResponseParseStatus first_final = ResponseParseStatus::incomplete;
  std::size_t first_length = 0;
  for (std::size_t n = 0; n <= wire.size(); n += 1 + n / 4) {
    const auto parse = parse_response_head(wire.substr(0, n), head, 1024);
    if (first_final == ResponseParseStatus::incomplete) {
      first_final = parse.status;
      first_length = parse.head_length;
    } else {
      FUZZ_CHECK(parse.status == first_final, "a head's verdict changed at %zu bytes", n);
      if (parse.status == ResponseParseStatus::complete) {
        FUZZ_CHECK(parse.head_length == first_length, "the head's length changed at %zu bytes", n);
      }
    }
    if (parse.status == ResponseParseStatus::complete) {
      FUZZ_CHECK(parse.head_length <= n && parse.head_length >= 2, "head length %zu of %zu bytes",
                 parse.head_length, n);
    }
  }

  // The body's ICY blocks, each read decoded where it landed.
  const Reference expected = reference_decode(wire, metaint);
  std::vector<std::byte> ring;
  IcyReader reader(metaint);
  const std::size_t head_at = decode_in_place(
      wire, reads, read_sizes, ring,
      [&](std::size_t, std::span<std::byte> read) { return reader.decode(read).body_bytes; });
  FUZZ_CHECK(head_at == expected.audio.size(), "%zu audio bytes, the reference %zu", head_at,
             expected.audio.size());
  FUZZ_CHECK(head_at == 0 || std::memcmp(ring.data(), expected.audio.data(), head_at) == 0,
             "the audio differs from the reference's");
  if (expected.has_title) {
    FUZZ_CHECK(reader.title() == expected.title, "title '%s', the reference '%s'",
               reader.title().c_str(), expected.title.c_str());
  }
  return 0;
}
