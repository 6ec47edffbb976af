// Record encoding and exact decoding for the bench stream (layout drawn in payload.h).
#include "payload.h"

#include <algorithm>
#include <cstring>

namespace ringcast::bench {
namespace {

constexpr std::size_t kSeqOffset = 4;
constexpr std::size_t kSendOffset = 12;
constexpr std::size_t kStreamOffset = 20;
constexpr std::size_t kFillerOffset = 28;
constexpr std::size_t kFillerWords = 19;
constexpr std::size_t kCheckOffset = 180;
constexpr std::array<std::uint8_t, 4> kHead = {kSyncByte, 'r', 'c', 'b'};
static_assert(kSendOffset + 8 == kStreamOffset && kStreamOffset + 8 == kFillerOffset);
static_assert(kFillerOffset + kFillerWords * 8 == kCheckOffset);
static_assert(kCheckOffset + 8 == kRecordSize);

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t filler_seed(std::uint64_t stream, std::uint64_t seq) {
  return mix(seq ^ mix(stream + 0x2545F4914F6CDD1Dull));
}

std::uint64_t filler_word(std::uint64_t seed, std::size_t index) {
  return seed + index * 0x9E3779B97F4A7C15ull;
}

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store64(std::uint8_t* p, std::uint64_t v) {
  std::memcpy(p, &v, sizeof v);
}

// Order-dependent hash of bytes [0, kCheckOffset): 22 words and a 4-byte tail.
std::uint64_t checksum(const std::uint8_t* p) {
  std::uint64_t h = 0x6A09E667F3BCC909ull;
  std::size_t offset = 0;
  for (; offset + 8 <= kCheckOffset; offset += 8) {
    h = (h ^ load64(p + offset)) * 0x9FB21C651E98DF25ull;
    h ^= h >> 32;
  }
  std::uint32_t tail;
  std::memcpy(&tail, p + offset, sizeof tail);
  return mix(h ^ tail);
}

}  // namespace

void encode_record(RecordBytes out, std::uint64_t stream, std::uint64_t seq,
                   std::uint64_t send_ns) {
  std::uint8_t* p = out.data();
  std::memcpy(p, kHead.data(), kHead.size());
  store64(p + kSeqOffset, seq);
  store64(p + kSendOffset, send_ns);
  store64(p + kStreamOffset, stream);
  const std::uint64_t seed = filler_seed(stream, seq);
  for (std::size_t i = 0; i < kFillerWords; ++i) {
    store64(p + kFillerOffset + i * 8, filler_word(seed, i));
  }
  store64(p + kCheckOffset, checksum(p));
}

std::optional<DecodedRecord> decode_record(ConstRecordBytes in) {
  const std::uint8_t* p = in.data();
  if (std::memcmp(p, kHead.data(), kHead.size()) != 0) return std::nullopt;
  const DecodedRecord record{load64(p + kStreamOffset), load64(p + kSeqOffset),
                             load64(p + kSendOffset)};
  const std::uint64_t seed = filler_seed(record.stream, record.seq);
  std::uint64_t filler_diff = 0;
  for (std::size_t i = 0; i < kFillerWords; ++i) {
    filler_diff |= load64(p + kFillerOffset + i * 8) ^ filler_word(seed, i);
  }
  if (filler_diff != 0 || load64(p + kCheckOffset) != checksum(p)) return std::nullopt;
  return record;
}

bool is_record_prefix(std::span<const std::uint8_t> prefix, std::uint64_t stream,
                      std::uint64_t seq) {
  if (prefix.size() >= kRecordSize) return false;
  // send_ns is whatever the prefix holds of it; the check bytes are then exact whenever the
  // prefix reaches them, since it holds all of send_ns by then.
  std::array<std::uint8_t, kRecordSize> known{};
  std::memcpy(known.data(), prefix.data(), prefix.size());
  std::array<std::uint8_t, kRecordSize> expected;
  encode_record(expected, stream, seq, load64(known.data() + kSendOffset));
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const bool send_ns_byte = i >= kSendOffset && i < kSendOffset + 8;
    if (!send_ns_byte && prefix[i] != expected[i]) return false;
  }
  return true;
}

bool is_record_suffix(std::span<const std::uint8_t> suffix, std::uint64_t stream,
                      std::uint64_t seq) {
  if (suffix.size() >= kRecordSize) return false;
  const std::size_t from = kRecordSize - suffix.size();
  std::array<std::uint8_t, kRecordSize> known{};
  std::memcpy(known.data() + from, suffix.data(), suffix.size());
  std::array<std::uint8_t, kRecordSize> expected;
  encode_record(expected, stream, seq, load64(known.data() + kSendOffset));
  const bool check_known = from <= kSendOffset;
  for (std::size_t i = from; i < kRecordSize; ++i) {
    const bool send_ns_byte = i >= kSendOffset && i < kSendOffset + 8;
    const bool unknowable = i >= kCheckOffset && !check_known;
    if (!send_ns_byte && !unknowable && known[i] != expected[i]) return false;
  }
  return true;
}

void RecordWriter::fill(std::span<std::uint8_t> out, std::uint64_t now_ns) {
  bytes_written_ += out.size();
  while (!out.empty()) {
    if (partial_offset_ == kRecordSize) {
      if (out.size() >= kRecordSize) {  // whole record straight into the output
        encode_record(out.first<kRecordSize>(), stream_, next_seq_++, now_ns);
        out = out.subspan(kRecordSize);
        continue;
      }
      encode_record(partial_, stream_, next_seq_++, now_ns);
      partial_offset_ = 0;
    }
    const std::size_t take = std::min(out.size(), kRecordSize - partial_offset_);
    std::memcpy(out.data(), partial_.data() + partial_offset_, take);
    partial_offset_ += take;
    out = out.subspan(take);
  }
}

}  // namespace ringcast::bench
