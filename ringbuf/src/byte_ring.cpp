// The byte ring's memory orderings. Head is published with release and read with acquire, so a
// reader that sees head also sees the bytes below it. Reservation and gates form a Dekker pair
// (both sides store, then load the other's value) and therefore use seq_cst: either the writer
// sees a reader's new gate, or the reader sees the writer's new reservation and reports a lap.
#include "ringcast/ringbuf/byte_ring.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace ringcast::ringbuf {

namespace {
constexpr std::size_t kMinCapacity = 4096;

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

// Runs first in the constructor's initializer list, before anything is allocated, so an absurd
// capacity is reported as invalid_argument rather than as bad_alloc.
std::size_t checked_capacity(std::size_t capacity, std::size_t gate_slots) {
  if (!is_power_of_two(capacity) || capacity < kMinCapacity) {
    throw std::invalid_argument("ring capacity must be a power of two of at least 4096");
  }
  if (gate_slots == 0) throw std::invalid_argument("a ring needs at least one gate slot");
  return capacity;
}
}  // namespace

ByteRing::ByteRing(std::size_t capacity, std::size_t gate_slots)
    : capacity_(checked_capacity(capacity, gate_slots)),
      mask_(capacity - 1),
      gate_count_(gate_slots),
      memory_(std::make_unique_for_overwrite<std::byte[]>(capacity)),
      gates_(std::make_unique<PaddedGate[]>(gate_slots)) {}

std::uint64_t ByteRing::min_gate() const {
  std::uint64_t lowest = kNoGate;
  for (std::size_t i = 0; i < gate_count_; ++i) {
    lowest = std::min(lowest, gates_[i].position.load());  // seq_cst: Dekker pair with pin()
  }
  return lowest;
}

std::span<std::byte> ByteRing::writable_span(std::size_t max_bytes) {
  // Only the writer stores head and reserved_end, so relaxed loads of our own values are exact.
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  const std::uint64_t reserved = reserved_end_.load(std::memory_order_relaxed);
  const std::size_t index = head & mask_;
  const std::uint64_t to_buffer_end = capacity_ - index;

  auto gate_limit = [this] {
    const std::uint64_t gate = min_gate();
    return gate == kNoGate ? kNoGate : gate + capacity_;
  };
  std::uint64_t end = head + std::min<std::uint64_t>(max_bytes, to_buffer_end);
  end = std::min(end, std::max(head, gate_limit()));
  // The reservation (and so tail()) never moves back: the writer may have written all of the
  // last span and committed only part of it, so the bytes a capacity below its end are gone.
  reserved_end_.store(std::max(reserved, end));  // seq_cst: Dekker pair with pin()
  // A reader that pinned before seeing the new reservation is visible now; shrink to respect it.
  // Its gate is at or above the old reservation minus capacity, so end never drops below head.
  const std::uint64_t recheck = gate_limit();
  if (recheck < end) {
    end = std::max(head, recheck);
    reserved_end_.store(std::max(reserved, end));
  }
  return {memory_.get() + index, static_cast<std::size_t>(end - head)};
}

void ByteRing::commit(std::size_t n) {
  const std::uint64_t head = head_.load(std::memory_order_relaxed);  // single writer
  assert(head + n <= reserved_end_.load(std::memory_order_relaxed));
  head_.store(head + n, std::memory_order_release);  // pairs: acquire in head()
}

std::uint64_t ByteRing::tail() const {
  const std::uint64_t reserved = reserved_end_.load();  // seq_cst: Dekker pair with writable_span()
  return reserved > capacity_ ? reserved - capacity_ : 0;
}

ReadResult ByteRing::views(std::uint64_t from, std::uint64_t to) const {
  ReadResult result;
  if (from < tail()) {
    result.outcome = ReadOutcome::lapped;
    return result;
  }
  result.views = pinned_views(from, to);
  return result;
}

Views ByteRing::pinned_views(std::uint64_t from, std::uint64_t to) const {
  assert(from <= to);
  assert(to - from <= capacity_);
  Views views;
  const std::size_t start = from & mask_;
  const std::size_t length = static_cast<std::size_t>(to - from);
  const std::size_t first = std::min(length, capacity_ - start);
  if (first > 0) views.parts[views.count++] = {start, first};
  if (length > first) views.parts[views.count++] = {0, length - first};
  return views;
}

bool ByteRing::pin(std::size_t slot, std::uint64_t pos) {
  assert(slot < gate_count_);
  std::atomic<std::uint64_t>& gate = gates_[slot].position;
  const std::uint64_t previous = gate.load(std::memory_order_relaxed);  // only this group stores
  if (pos >= previous) return true;  // already protected by the lower gate
  gate.store(pos);                   // seq_cst: Dekker pair with writable_span()
  if (pos < tail()) {
    gate.store(previous);
    return false;
  }
  return true;
}

void ByteRing::release(std::size_t slot, std::uint64_t pos) {
  assert(slot < gate_count_);
  // Raising a gate only gives the writer more room; the writer reads gates with seq_cst loads,
  // and a stale lower value is merely conservative.
  gates_[slot].position.store(pos, std::memory_order_release);  // pairs: seq_cst load in min_gate()
}

std::uint64_t ByteRing::gate(std::size_t slot) const {
  assert(slot < gate_count_);
  return gates_[slot].position.load(std::memory_order_relaxed);  // the owner's own store
}

}  // namespace ringcast::ringbuf
