// The bench's verifiable stream: 188-byte records that any viewer can check byte for byte, even
// after joining mid-stream or being skipped forward. Pure code, no I/O.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ringcast::bench {

// One record is one MPEG-TS packet's worth of bytes, so a relay that aligns mp2t gaps to 188
// bytes keeps records whole. Integers are little-endian.
//
//    0      1..3    4..11       12..19          20..27         28..179                 180..187
//  +------+-------+-----------+---------------+--------------+-----------------------+-----------+
//  | 0x47 | "rcb" | seq (u64) | send_ns (u64) | stream (u64) | filler(stream, seq),  | check u64 |
//  |      |       |           |               |              | 152 B                 |           |
//  +------+-------+-----------+---------------+--------------+-----------------------+-----------+
//
// send_ns is CLOCK_MONOTONIC at generation (valid because sender and viewers share a machine).
// stream is the broadcaster's mount index (0 with one mount), so a viewer of one mount that is
// sent another mount's records sees intact records that are not its own. check hashes bytes
// 0..179, so a false sync on a stray 0x47 or a record spliced from two others fails; the filler
// is recomputed from stream and seq as a second, exact check.
inline constexpr std::size_t kRecordSize = 188;
inline constexpr std::uint8_t kSyncByte = 0x47;
static_assert(std::endian::native == std::endian::little, "records are encoded little-endian");

using RecordBytes = std::span<std::uint8_t, kRecordSize>;
using ConstRecordBytes = std::span<const std::uint8_t, kRecordSize>;

// seq = generation << 48 | number. A broadcaster that reconnects starts the next generation and
// continues the numbers, so a viewer tells a source restart (generation + 1, number + 1) from a
// relay skip (same generation, numbers jump) and from a splice (no intact record at all).
inline constexpr unsigned kGenerationShift = 48;
inline constexpr std::uint64_t kNumberMask = (std::uint64_t{1} << kGenerationShift) - 1;

constexpr std::uint64_t make_seq(std::uint64_t generation, std::uint64_t number) {
  return generation << kGenerationShift | (number & kNumberMask);
}
constexpr std::uint64_t seq_generation(std::uint64_t seq) {
  return seq >> kGenerationShift;
}
constexpr std::uint64_t seq_number(std::uint64_t seq) {
  return seq & kNumberMask;
}

// Where the broadcaster cuts its last record before it reconnects to start `generation`: that
// many bytes of the record go out, the rest never does. A fixed schedule that both sides know,
// so a viewer accepts a torn record only at exactly the cut the source made. The first ones
// are the edges (inside the head, the seq, send_ns, the check); then every offset in turn.
constexpr std::size_t tear_offset(std::uint64_t generation) {
  constexpr std::size_t kFirst[] = {1, 187, 0, 4, 12, 20, 93, 180, 181, 11, 19, 3};
  constexpr std::uint64_t kListed = sizeof kFirst / sizeof kFirst[0];
  if (generation >= 1 && generation <= kListed) return kFirst[generation - 1];
  return static_cast<std::size_t>(generation * 67 % 188);  // 67 is coprime with 188
}

struct DecodedRecord {
  std::uint64_t stream;
  std::uint64_t seq;
  std::uint64_t send_ns;
};

void encode_record(RecordBytes out, std::uint64_t stream, std::uint64_t seq, std::uint64_t send_ns);

// nullopt if any byte differs from what encode_record would have written for the embedded
// stream and seq.
std::optional<DecodedRecord> decode_record(ConstRecordBytes in);

// Whether `prefix` (shorter than a record) is how record `seq` of `stream` begins, whatever
// its send_ns.
bool is_record_prefix(std::span<const std::uint8_t> prefix, std::uint64_t stream,
                      std::uint64_t seq);

// Whether `suffix` (shorter than a record) is how record `seq` of `stream` ends, whatever its
// send_ns. The check bytes depend on all of send_ns: they are compared only when the suffix
// holds it, so a suffix of only check bytes (8 or fewer) matches any record.
bool is_record_suffix(std::span<const std::uint8_t> suffix, std::uint64_t stream,
                      std::uint64_t seq);

// The continuous stream of records cut at any write size: a record may straddle two writes.
// A record's send_ns is the time its first byte was produced.
class RecordWriter {
 public:
  RecordWriter() = default;  // stream 0 from seq 0
  RecordWriter(std::uint64_t stream, std::uint64_t first_seq)
      : stream_(stream), next_seq_(first_seq) {}

  void fill(std::span<std::uint8_t> out, std::uint64_t now_ns);
  std::uint64_t bytes_written() const { return bytes_written_; }
  // The seq of the next record to start (a record cut short counts as started).
  std::uint64_t next_seq() const { return next_seq_; }
  // Bytes of the current record already written: 0 at a record boundary.
  std::size_t record_offset() const { return partial_offset_ % kRecordSize; }
  std::uint64_t stream() const { return stream_; }

 private:
  std::array<std::uint8_t, kRecordSize> partial_{};
  std::size_t partial_offset_ = kRecordSize;  // bytes of partial_ already emitted
  std::uint64_t stream_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace ringcast::bench
