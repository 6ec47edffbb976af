// Per-viewer checker of the bench stream: frames the bytes a viewer receives into records,
// verifies each one and classifies every anomaly. Pure code, no I/O; about 250 bytes a viewer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "histogram.h"
#include "payload.h"

namespace ringcast::bench {

struct VerifierCounts {
  std::uint64_t records_ok = 0;
  // Once synced, any 188-byte record that fails: spliced, overwritten or misaligned bytes.
  std::uint64_t records_corrupt = 0;
  std::uint64_t gaps = 0;              // sequence jumps forward between intact records
  std::uint64_t records_skipped = 0;   // records missing across those jumps
  std::uint64_t records_replayed = 0;  // intact records whose seq went backwards
  // Intact records of another stream (another mount's broadcaster): never the viewer's own.
  std::uint64_t records_foreign = 0;
  std::uint64_t bytes_discarded_at_join = 0;  // scanned past before the first good record
  std::uint64_t bytes_discarded_after_corruption = 0;
  // A broadcaster that reconnects: the new generation's first record seen (at a boundary or
  // behind a torn record), and the records it cut short, which are not corrupt.
  std::uint64_t source_restarts = 0;
  std::uint64_t records_torn = 0;
  std::uint64_t bytes_discarded_at_tear = 0;  // the torn records' bytes
  // SkipAlignment::kAnyByte only: gaps (also in `gaps`) that began inside one record and ended
  // inside a later one, and the bytes of those two partial records.
  std::uint64_t gaps_unaligned = 0;
  std::uint64_t bytes_discarded_at_gap = 0;

  void add(const VerifierCounts& other);
};

// Framing states. A connection starts kJoining: bytes before the first record that verifies
// are discarded (a relay that does not align joins to 188 bytes, like Icecast). Once kSynced,
// every 188 bytes must be one intact record; a failure counts as corrupt and the verifier
// rescans (kResyncing) so that one splice is counted once, not for the rest of the stream.
// One failure is not corrupt: a record the broadcaster cut short when it reconnected, followed
// by the new generation's first record. The failed 188 bytes and the next 187 wait in kTearCheck
// until that can be decided (payload.h: tear_offset says where each cut is).
// A record of another stream than the verifier's is counted apart (records_foreign) and never
// accepted: it neither syncs a joining viewer nor moves the sequence on.
//
// Where a relay may skip a slow viewer forward. kRecord: only at a record boundary (a relay that
// cuts MPEG-TS at packets); a skip anywhere else is corrupt. kAnyByte: anywhere (a relay that
// does not know the framing of other content types), so a failed record is also a gap if it is
// exactly how the expected record begins followed by exactly how a later record (at least one
// whole record further on) ends, and the record after that one follows intact. Then the failed
// bytes and the next 375 are held until that is decided.
enum class SkipAlignment : std::uint8_t { kRecord, kAnyByte };

class StreamVerifier {
 public:
  explicit StreamVerifier(std::uint64_t stream = 0, SkipAlignment skips = SkipAlignment::kRecord)
      : skips_(skips), stream_(stream) {}

  // `latency` (nullable) receives now_ns - send_ns of each intact record.
  void feed(std::span<const std::uint8_t> bytes, std::uint64_t now_ns, Histogram* latency);

  const VerifierCounts& counts() const { return counts_; }
  bool synced() const { return state_ == State::kSynced; }
  std::uint64_t stream() const { return stream_; }

 private:
  enum class State : std::uint8_t { kJoining, kSynced, kResyncing, kTearCheck };
  // A tear's new record starts within the failed record's 187 bytes after its first; an
  // unaligned gap's next record within the failed record and the 187 bytes after it.
  static constexpr std::size_t kTearCheckBytes = 2 * kRecordSize - 1;
  static constexpr std::size_t kGapCheckBytes = 3 * kRecordSize - 1;

  void consume(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_synced(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_scanning(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_tear_check(std::span<const std::uint8_t> bytes);
  std::optional<std::size_t> resolve_as_tear(std::span<const std::uint8_t> held);
  std::optional<std::size_t> resolve_as_unaligned_gap(std::span<const std::uint8_t> held);
  std::size_t held_bytes() const {
    return skips_ == SkipAlignment::kAnyByte ? kGapCheckBytes : kTearCheckBytes;
  }
  bool sequence(std::uint64_t seq);
  void check_framed(ConstRecordBytes record);
  void accept(const DecodedRecord& record);
  void discard(std::size_t count);
  void drop_carry_front(std::size_t count);

  std::array<std::uint8_t, kRecordSize> carry_{};  // a partial record between reads
  std::uint8_t carry_size_ = 0;
  // kTearCheck only (rare: allocated at a failure, freed once decided).
  std::unique_ptr<std::array<std::uint8_t, kGapCheckBytes>> tear_;
  std::uint16_t tear_size_ = 0;
  State state_ = State::kJoining;
  SkipAlignment skips_;
  std::uint64_t stream_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t now_ns_ = 0;
  Histogram* latency_ = nullptr;
  VerifierCounts counts_;
};

}  // namespace ringcast::bench
