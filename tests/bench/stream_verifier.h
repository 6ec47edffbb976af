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
  std::uint64_t gaps = 0;                     // sequence jumps forward between intact records
  std::uint64_t records_skipped = 0;          // records missing across those jumps
  std::uint64_t records_replayed = 0;         // intact records whose seq went backwards
  std::uint64_t bytes_discarded_at_join = 0;  // scanned past before the first good record
  std::uint64_t bytes_discarded_after_corruption = 0;
  // A broadcaster that reconnects: the new generation's first record seen (at a boundary or
  // behind a torn record), and the records it cut short, which are not corrupt.
  std::uint64_t source_restarts = 0;
  std::uint64_t records_torn = 0;
  std::uint64_t bytes_discarded_at_tear = 0;  // the torn records' bytes

  void add(const VerifierCounts& other);
};

// Framing states. A connection starts kJoining: bytes before the first record that verifies
// are discarded (a relay that does not align joins to 188 bytes, like Icecast). Once kSynced,
// every 188 bytes must be one intact record; a failure counts as corrupt and the verifier
// rescans (kResyncing) so that one splice is counted once, not for the rest of the stream.
// One failure is not corrupt: a record the broadcaster cut short when it reconnected, followed
// by the new generation's first record. The failed 188 bytes and the next 187 wait in kTearCheck
// until that can be decided (payload.h: tear_offset says where each cut is).
class StreamVerifier {
 public:
  // `latency` (nullable) receives now_ns - send_ns of each intact record.
  void feed(std::span<const std::uint8_t> bytes, std::uint64_t now_ns, Histogram* latency);

  const VerifierCounts& counts() const { return counts_; }
  bool synced() const { return state_ == State::kSynced; }

 private:
  enum class State : std::uint8_t { kJoining, kSynced, kResyncing, kTearCheck };
  static constexpr std::size_t kTearCheckBytes = 2 * kRecordSize - 1;

  void consume(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_synced(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_scanning(std::span<const std::uint8_t> bytes);
  std::span<const std::uint8_t> feed_tear_check(std::span<const std::uint8_t> bytes);
  std::optional<std::size_t> resolve_as_tear(std::span<const std::uint8_t> held);
  bool sequence(std::uint64_t seq);
  void check_framed(ConstRecordBytes record);
  void accept(const DecodedRecord& record);
  void discard(std::size_t count);
  void drop_carry_front(std::size_t count);

  std::array<std::uint8_t, kRecordSize> carry_{};  // a partial record between reads
  std::uint8_t carry_size_ = 0;
  // kTearCheck only (rare: allocated at a failure, freed once decided).
  std::unique_ptr<std::array<std::uint8_t, kTearCheckBytes>> tear_;
  std::uint16_t tear_size_ = 0;
  State state_ = State::kJoining;
  std::uint64_t next_seq_ = 0;
  std::uint64_t now_ns_ = 0;
  Histogram* latency_ = nullptr;
  VerifierCounts counts_;
};

}  // namespace ringcast::bench
