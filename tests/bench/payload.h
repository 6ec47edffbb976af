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
//    0      1..3    4..11       12..19          20..179                180..187
//  +------+-------+-----------+---------------+----------------------+-----------+
//  | 0x47 | "rcb" | seq (u64) | send_ns (u64) | filler(seq), 160 B   | check u64 |
//  +------+-------+-----------+---------------+----------------------+-----------+
//
// send_ns is CLOCK_MONOTONIC at generation (valid because sender and viewers share a machine).
// check hashes bytes 0..179, so a false sync on a stray 0x47 or a record spliced from two
// others fails; the filler is recomputed from seq as a second, exact check.
inline constexpr std::size_t kRecordSize = 188;
inline constexpr std::uint8_t kSyncByte = 0x47;
static_assert(std::endian::native == std::endian::little, "records are encoded little-endian");

using RecordBytes = std::span<std::uint8_t, kRecordSize>;
using ConstRecordBytes = std::span<const std::uint8_t, kRecordSize>;

struct DecodedRecord {
  std::uint64_t seq;
  std::uint64_t send_ns;
};

void encode_record(RecordBytes out, std::uint64_t seq, std::uint64_t send_ns);

// nullopt if any byte differs from what encode_record would have written for the embedded seq.
std::optional<DecodedRecord> decode_record(ConstRecordBytes in);

// The continuous stream of records cut at any write size: a record may straddle two writes.
// A record's send_ns is the time its first byte was produced.
class RecordWriter {
 public:
  explicit RecordWriter(std::uint64_t first_seq = 0) : next_seq_(first_seq) {}

  void fill(std::span<std::uint8_t> out, std::uint64_t now_ns);
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::array<std::uint8_t, kRecordSize> partial_{};
  std::size_t partial_offset_ = kRecordSize;  // bytes of partial_ already emitted
  std::uint64_t next_seq_;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace ringcast::bench
