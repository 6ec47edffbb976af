// Framing, resynchronisation and classification of a viewer's received bytes.
#include "stream_verifier.h"

#include <algorithm>
#include <cstring>

namespace ringcast::bench {

void VerifierCounts::add(const VerifierCounts& other) {
  records_ok += other.records_ok;
  records_corrupt += other.records_corrupt;
  gaps += other.gaps;
  records_skipped += other.records_skipped;
  records_replayed += other.records_replayed;
  records_foreign += other.records_foreign;
  bytes_discarded_at_join += other.bytes_discarded_at_join;
  bytes_discarded_after_corruption += other.bytes_discarded_after_corruption;
  source_restarts += other.source_restarts;
  records_torn += other.records_torn;
  bytes_discarded_at_tear += other.bytes_discarded_at_tear;
  gaps_unaligned += other.gaps_unaligned;
  bytes_discarded_at_gap += other.bytes_discarded_at_gap;
}

void StreamVerifier::feed(std::span<const std::uint8_t> bytes, std::uint64_t now_ns,
                          Histogram* latency) {
  now_ns_ = now_ns;
  latency_ = latency;
  consume(bytes);
}

void StreamVerifier::consume(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    switch (state_) {
      case State::kSynced:
        bytes = feed_synced(bytes);
        break;
      case State::kTearCheck:
        bytes = feed_tear_check(bytes);
        break;
      case State::kJoining:
      case State::kResyncing:
        bytes = feed_scanning(bytes);
        break;
    }
  }
}

// Consumes whole records until the input ends (the tail goes to carry_) or one fails.
std::span<const std::uint8_t> StreamVerifier::feed_synced(std::span<const std::uint8_t> bytes) {
  if (carry_size_ > 0) {
    const std::size_t take = std::min(bytes.size(), kRecordSize - carry_size_);
    std::memcpy(carry_.data() + carry_size_, bytes.data(), take);
    carry_size_ = static_cast<std::uint8_t>(carry_size_ + take);
    bytes = bytes.subspan(take);
    if (carry_size_ < kRecordSize) return bytes;
    carry_size_ = 0;
    check_framed(carry_);
  }
  while (state_ == State::kSynced && bytes.size() >= kRecordSize) {
    check_framed(bytes.first<kRecordSize>());
    bytes = bytes.subspan(kRecordSize);
  }
  if (state_ == State::kSynced) {
    std::memcpy(carry_.data(), bytes.data(), bytes.size());
    carry_size_ = static_cast<std::uint8_t>(bytes.size());
    return {};
  }
  return bytes;
}

// Looks for the first record that verifies, at any byte offset. A candidate may start inside
// carry_ and end in `bytes`; it is then assembled on the stack.
std::span<const std::uint8_t> StreamVerifier::feed_scanning(std::span<const std::uint8_t> bytes) {
  while (carry_size_ > 0) {
    if (carry_[0] != kSyncByte) {
      const void* sync = std::memchr(carry_.data(), kSyncByte, carry_size_);
      drop_carry_front(sync ? static_cast<const std::uint8_t*>(sync) - carry_.data() : carry_size_);
      continue;
    }
    const std::size_t need = kRecordSize - carry_size_;
    if (bytes.size() < need) {
      std::memcpy(carry_.data() + carry_size_, bytes.data(), bytes.size());
      carry_size_ = static_cast<std::uint8_t>(carry_size_ + bytes.size());
      return {};
    }
    std::array<std::uint8_t, kRecordSize> candidate;
    std::memcpy(candidate.data(), carry_.data(), carry_size_);
    std::memcpy(candidate.data() + carry_size_, bytes.data(), need);
    if (auto record = decode_record(candidate)) {
      carry_size_ = 0;
      accept(*record);
      return bytes.subspan(need);
    }
    drop_carry_front(1);
  }
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const void* sync = std::memchr(bytes.data() + offset, kSyncByte, bytes.size() - offset);
    if (sync == nullptr) break;
    const auto at = static_cast<std::size_t>(static_cast<const std::uint8_t*>(sync) - bytes.data());
    discard(at - offset);
    offset = at;
    if (bytes.size() - offset < kRecordSize) {
      std::memcpy(carry_.data(), bytes.data() + offset, bytes.size() - offset);
      carry_size_ = static_cast<std::uint8_t>(bytes.size() - offset);
      return {};
    }
    if (auto record = decode_record(bytes.subspan(offset).first<kRecordSize>())) {
      accept(*record);
      return bytes.subspan(offset + kRecordSize);
    }
    discard(1);
    ++offset;
  }
  discard(bytes.size() - offset);
  return {};
}

// A record at a position where one must start. Failure here is corruption, never a resync:
// the relay cuts only at record (188-byte) boundaries, so a partial record means spliced bytes.
// The one exception, a broadcaster's cut, is decided in kTearCheck once the next bytes are in.
void StreamVerifier::check_framed(ConstRecordBytes bytes) {
  if (auto record = decode_record(bytes)) {
    accept(*record);
    return;
  }
  if (!tear_) tear_ = std::make_unique<std::array<std::uint8_t, kGapCheckBytes>>();
  std::memcpy(tear_->data(), bytes.data(), kRecordSize);
  tear_size_ = kRecordSize;
  state_ = State::kTearCheck;
}

std::span<const std::uint8_t> StreamVerifier::feed_tear_check(std::span<const std::uint8_t> bytes) {
  const std::size_t take = std::min(bytes.size(), held_bytes() - tear_size_);
  std::memcpy(tear_->data() + tear_size_, bytes.data(), take);
  tear_size_ = static_cast<std::uint16_t>(tear_size_ + take);
  bytes = bytes.subspan(take);
  if (tear_size_ < held_bytes()) return bytes;
  const auto held = std::move(tear_);
  const auto checked = std::span<const std::uint8_t>(*held).first(held_bytes());
  tear_size_ = 0;
  state_ = State::kSynced;
  if (const auto cut = resolve_as_tear(checked.first(kTearCheckBytes))) {
    // The new generation's first record ends at cut + 188; what follows it is synced.
    consume(checked.subspan(*cut + kRecordSize));
  } else if (const auto next = skips_ == SkipAlignment::kAnyByte ? resolve_as_unaligned_gap(checked)
                                                                 : std::nullopt) {
    consume(checked.subspan(*next + kRecordSize));
  } else {
    ++counts_.records_corrupt;
    state_ = State::kResyncing;
    consume(checked.subspan(kRecordSize));  // scanned as after any corruption
  }
  return bytes;
}

// Is the held record the one the broadcaster cut short before reconnecting? Only if the
// new generation's first record (g + 1, n + 1) starts exactly at the cut the schedule gives for
// g + 1, and the bytes before it are how record (g, n) begins. Anything else is corruption.
// Returns the cut's offset in `held`.
std::optional<std::size_t> StreamVerifier::resolve_as_tear(std::span<const std::uint8_t> held) {
  for (std::size_t k = 1; k < kRecordSize; ++k) {
    if (held[k] != kSyncByte) continue;
    const auto record = decode_record(held.subspan(k).first<kRecordSize>());
    if (!record || record->stream != stream_) continue;
    const std::uint64_t generation = seq_generation(record->seq);
    const std::uint64_t number = seq_number(record->seq);
    if (generation == 0 || number == 0 || tear_offset(generation) != k) continue;
    const std::uint64_t torn_seq = make_seq(generation - 1, number - 1);
    if (!is_record_prefix(held.first(k), stream_, torn_seq)) continue;
    if (!sequence(torn_seq)) return std::nullopt;  // a replayed cut is no tear: corrupt
    ++counts_.records_torn;
    counts_.bytes_discarded_at_tear += k;
    next_seq_ = torn_seq + 1;
    accept(*record);
    return k;
  }
  return std::nullopt;
}

// Is the held record a skip that began inside the expected record n and ended inside a later
// record m - 1, with record m intact right after? Only if the bytes before m are exactly a
// prefix of n followed by a suffix of m - 1 (m > n + 1, same generation). Anything else is
// corruption. Returns where m starts in `held`.
std::optional<std::size_t> StreamVerifier::resolve_as_unaligned_gap(
    std::span<const std::uint8_t> held) {
  const std::size_t last_start = held.size() - kRecordSize;
  for (std::size_t k = 1; k <= last_start; ++k) {
    if (held[k] != kSyncByte) continue;
    const auto record = decode_record(held.subspan(k).first<kRecordSize>());
    if (!record || record->stream != stream_) continue;
    // The first intact record decides: there is no other candidate for m.
    if (seq_generation(record->seq) != seq_generation(next_seq_) ||
        seq_number(record->seq) < seq_number(next_seq_) + 2) {
      return std::nullopt;
    }
    const std::uint64_t before = record->seq - 1;  // m - 1, whose end precedes m
    // a bytes of n, then k - a of m - 1; a = k means m follows n's prefix directly.
    for (std::size_t a = std::max<std::size_t>(1, k >= kRecordSize ? k - kRecordSize + 1 : 1);
         a <= std::min(k, kRecordSize - 1); ++a) {
      if (!is_record_prefix(held.first(a), stream_, next_seq_)) break;  // longer ones fail too
      if (a < k && !is_record_suffix(held.subspan(a, k - a), stream_, before)) continue;
      ++counts_.gaps;
      ++counts_.gaps_unaligned;
      counts_.records_skipped += record->seq - next_seq_;  // n .. m - 1: none whole
      counts_.bytes_discarded_at_gap += k;
      next_seq_ = record->seq;
      accept(*record);
      return k;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// Sequence accounting of an intact (or torn) record while synced; false if it is replayed.
bool StreamVerifier::sequence(std::uint64_t seq) {
  const std::uint64_t generation = seq_generation(seq);
  const std::uint64_t expected_generation = seq_generation(next_seq_);
  if (generation < expected_generation || seq_number(seq) < seq_number(next_seq_)) {
    ++counts_.records_replayed;
    return false;
  }
  counts_.source_restarts += generation - expected_generation;
  // The record the old broadcaster cut short: a relay may drop it whole (ringcast sends no
  // cut packet), so the new generation's first record follows the one before it.
  if (generation == expected_generation + 1 && tear_offset(generation) != 0 &&
      seq_number(seq) == seq_number(next_seq_) + 1) {
    ++counts_.records_torn;
    return true;
  }
  if (seq_number(seq) > seq_number(next_seq_)) {
    ++counts_.gaps;
    counts_.records_skipped += seq_number(seq) - seq_number(next_seq_);
  }
  return true;
}

void StreamVerifier::accept(const DecodedRecord& record) {
  if (record.stream != stream_) {
    ++counts_.records_foreign;
    return;
  }
  // After a corruption the records lost are part of that one event, not a relay skip.
  if (state_ == State::kSynced && !sequence(record.seq)) return;
  state_ = State::kSynced;
  next_seq_ = record.seq + 1;
  ++counts_.records_ok;
  if (latency_ != nullptr && now_ns_ >= record.send_ns) latency_->record(now_ns_ - record.send_ns);
}

void StreamVerifier::discard(std::size_t count) {
  if (state_ == State::kJoining) {
    counts_.bytes_discarded_at_join += count;
  } else {
    counts_.bytes_discarded_after_corruption += count;
  }
}

void StreamVerifier::drop_carry_front(std::size_t count) {
  discard(count);
  std::memmove(carry_.data(), carry_.data() + count, carry_size_ - count);
  carry_size_ = static_cast<std::uint8_t>(carry_size_ - count);
}

}  // namespace ringcast::bench
