// A fixed-capacity byte ring for one live stream: one writer receives in place at the head,
// any number of readers take (offset, length) views behind it. Knows nothing of sockets or
// event loops; the relay decides what to do with the views.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace ringcast::ringbuf {

// Layout
//
//   absolute positions (uint64_t, never wrap)
//   0 ............ head-capacity ......... reader pos ......... head .... reserved_end
//                  |<------------------- capacity ------------------->|
//
//   memory (capacity bytes, power of two): index = position & mask
//   +-------------------------------------------------------------------------+
//   |   ...older bytes... | head-> writable span -> | ...readable (behind)... |
//   +-------------------------------------------------------------------------+
//
// - The writer hands out writable_span() starting at head, publishes reserved_end (the end of
//   what it may be writing into now), and commit(n) moves head forward by n.
// - A position p is readable while  reserved_end - capacity <= p < head.  Below that the bytes
//   may have been overwritten: a reader there is "lapped" (one subtraction decides it).
// - Gates (in the style of the Disruptor's gating sequences): each reader group, for example
//   one event loop, owns a gate slot holding the oldest position it may still be reading (an
//   in-flight socket write). The writer never reserves past  min(gate) + capacity, so memory
//   referenced by an in-flight write is never reused. The writer never waits: when a gate
//   holds it back, writable_span() is short or empty and the relay decides what to evict.

inline constexpr std::uint64_t kNoGate = UINT64_MAX;

// A contiguous piece of the ring: `offset` indexes data(), `length` bytes long.
struct View {
  std::size_t offset = 0;
  std::size_t length = 0;
};

// At most two views: a range of positions split at the end of the buffer.
struct Views {
  std::array<View, 2> parts{};
  std::size_t count = 0;

  std::size_t size() const { return parts[0].length + parts[1].length; }
};

enum class ReadOutcome {
  ok,      // views cover the whole requested range
  lapped,  // the start of the range has been (or may be being) overwritten
};

struct ReadResult {
  ReadOutcome outcome = ReadOutcome::ok;
  Views views;
};

class ByteRing {
 public:
  // capacity: a power of two, at least 4 KiB. gate_slots: how many reader groups may pin.
  explicit ByteRing(std::size_t capacity, std::size_t gate_slots = 1);

  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  std::size_t capacity() const { return capacity_; }
  std::size_t gate_slots() const { return gate_count_; }
  const std::byte* data() const { return memory_.get(); }

  // --- writer (one thread) ---

  // Contiguous free memory at head, at most max_bytes, bounded by the buffer's end and by the
  // gates. Empty when a gate pins the memory at head. The span stays reserved until the next
  // writable_span() or commit().
  std::span<std::byte> writable_span(std::size_t max_bytes);
  // Publishes n bytes (n <= the last span's size) written at head.
  void commit(std::size_t n);
  // The lowest position any reader group has pinned (kNoGate: none). The writer may reserve up
  // to oldest_gate() + capacity.
  std::uint64_t oldest_gate() const { return min_gate(); }

  // --- readers (any thread) ---

  std::uint64_t head() const { return head_.load(std::memory_order_acquire); }  // pairs: commit
  // Oldest position still safe to read now (bytes below it may be overwritten).
  std::uint64_t tail() const;
  bool is_lapped(std::uint64_t pos) const { return pos < tail(); }
  // Views of [from, to), to <= head(). Lapped when from < tail().
  ReadResult views(std::uint64_t from, std::uint64_t to) const;
  // Views of [from, to) for a reader whose pinned gate covers `from`: no lap check, since the
  // writer cannot reach pinned memory (tail() may briefly include a reservation the writer is
  // about to shrink back to respect that very gate).
  Views pinned_views(std::uint64_t from, std::uint64_t to) const;

  // Lowers gate `slot` to pos and checks that pos was not lapped in the meantime. Returns false
  // (and leaves the gate where it was) when pos is lapped. A gate may only be lowered by pin()
  // and raised by release(); positions at or above a pinned gate are safe to read.
  bool pin(std::size_t slot, std::uint64_t pos);
  // Raises gate `slot` to pos (kNoGate: the group reads nothing now). Never fails.
  void release(std::size_t slot, std::uint64_t pos);
  // Exact on the thread that owns the slot (it alone stores it); a snapshot elsewhere.
  std::uint64_t gate(std::size_t slot) const;

 private:
  struct alignas(64) PaddedGate {
    std::atomic<std::uint64_t> position{kNoGate};
  };

  std::uint64_t min_gate() const;

  std::size_t capacity_;
  std::size_t mask_;
  std::size_t gate_count_;
  std::unique_ptr<std::byte[]> memory_;
  std::unique_ptr<PaddedGate[]> gates_;

  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> reserved_end_{0};
};

}  // namespace ringcast::ringbuf
