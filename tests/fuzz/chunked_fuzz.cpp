// libFuzzer target for the in-place chunked decoder: for any bytes and any split into reads, what
// it commits and its verdict equal those of a plain reference decoder that copies, line by line.
//
// Input: byte 0 holds the number of reads before the last (low 4 bits) and the limits (high 4
// bits: 0 the relay's, else small ones, so that both bounds are reached); the next `reads` bytes
// are those reads' sizes (0: an empty read); the rest is what the source sent, the bytes left
// over being the last read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "in_place_reads.h"
#include "ringcast/http/chunked_decoder.h"

namespace {

using ringcast::relay::ChunkedDecoder;
using Status = ChunkedDecoder::Status;

const char* name_of(Status status) {
  switch (status) {
    case Status::more:
      return "more";
    case Status::done:
      return "done";
    case Status::malformed:
      return "malformed";
  }
  return "?";
}

struct Reference {
  std::string body;
  Status status = Status::more;
};

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The reference: the whole input at once, a line at a time. A line without its LF yet is judged
// on what there is: broken already (malformed) or possibly fine (more).
Reference reference_decode(std::string_view in, ChunkedDecoder::Limits limits) {
  Reference out;
  auto malformed = [&] {
    out.status = Status::malformed;
    return out;
  };
  for (;;) {
    // The size line: its bytes through the LF count against the limit.
    const std::size_t lf = in.find('\n');
    const bool complete = lf != std::string_view::npos;
    std::string_view line = in.substr(0, complete ? lf : in.size());
    if (line.empty() && !complete) return out;  // the next size line has not begun
    if (line.size() + (complete ? 1 : 0) > limits.max_size_line) return malformed();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF, or CR awaiting LF
    if (line.find('\r') != std::string_view::npos) return malformed();
    std::size_t digits = 0;
    while (digits < line.size() && is_hex(line[digits])) ++digits;
    if (digits == 0) return malformed();
    const std::string_view hex = line.substr(0, digits);
    const std::size_t first_significant = std::min(hex.find_first_not_of('0'), hex.size());
    if (hex.size() - first_significant > 15) return malformed();
    if (hex.size() > 32) return malformed();  // leading zeros count toward 32 digits in all
    std::string_view rest = line.substr(digits);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() != ';') return malformed();
    if (!complete) return out;
    const std::uint64_t size = std::stoull(std::string(hex), nullptr, 16);
    in.remove_prefix(lf + 1);
    if (size == 0) break;

    // The data, then CRLF or LF.
    if (in.size() < size) {
      out.body.append(in);
      return out;
    }
    out.body.append(in.substr(0, size));
    in.remove_prefix(size);
    if (in.empty()) return out;
    if (in.front() == '\r') {
      in.remove_prefix(1);
      if (in.empty()) return out;
    }
    if (in.front() != '\n') return malformed();
    in.remove_prefix(1);
  }

  // The trailer section: lines up to an empty one, all its bytes counted against the limit.
  std::size_t section = 0;
  for (;;) {
    const std::size_t lf = in.find('\n');
    const bool complete = lf != std::string_view::npos;
    std::string_view line = in.substr(0, complete ? lf : in.size());
    section += line.size() + (complete ? 1 : 0);
    if (section > limits.max_trailer_section) return malformed();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return malformed();
    if (!complete) return out;
    if (line.empty()) {
      out.status = Status::done;
      return out;
    }
    in.remove_prefix(lf + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t reads = std::min<std::size_t>(data[0] & 0x0f, size - 1);
  const unsigned small = data[0] >> 4;
  const ChunkedDecoder::Limits limits =
      small == 0 ? ChunkedDecoder::Limits{} : ChunkedDecoder::Limits{small * 3, small * 5};
  const std::uint8_t* read_sizes = data + 1;
  const std::string_view wire(reinterpret_cast<const char*>(data + 1 + reads), size - 1 - reads);

  const Reference expected = reference_decode(wire, limits);

  // As the source's receive path does: each read decoded in the ring where it landed, only its
  // body committed.
  std::vector<std::byte> ring;
  ChunkedDecoder decoder(limits);
  Status last = Status::more;
  const std::size_t head =
      decode_in_place(wire, reads, read_sizes, ring, [&](std::size_t i, std::span<std::byte> read) {
        const auto result = decoder.decode(read);
        if (last != Status::more) {
          FUZZ_CHECK(result.status == last && result.body_bytes == 0,
                     "after %s, read %zu gave %s and %zu bytes", name_of(last), i,
                     name_of(result.status), result.body_bytes);
        }
        last = result.status;
        return result.body_bytes;
      });

  FUZZ_CHECK(last == expected.status, "in %zu reads: %s, the reference: %s", reads + 1,
             name_of(last), name_of(expected.status));
  FUZZ_CHECK(head == expected.body.size(), "committed %zu body bytes, the reference %zu", head,
             expected.body.size());
  FUZZ_CHECK(head == 0 || std::memcmp(ring.data(), expected.body.data(), head) == 0,
             "the committed body differs from the reference's");
  FUZZ_CHECK(decoder.body_total() == head, "body_total %llu, committed %zu",
             static_cast<unsigned long long>(decoder.body_total()), head);
  FUZZ_CHECK(decoder.status() == last, "status() disagrees with the last result");
  FUZZ_CHECK(decoder.error().empty() == (last != Status::malformed), "error '%.*s' with status %s",
             static_cast<int>(decoder.error().size()), decoder.error().data(), name_of(last));
  return 0;
}
