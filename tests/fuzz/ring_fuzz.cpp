// libFuzzer target for ByteRing: an arbitrary sequence of writer and reader operations, run on one
// thread and checked after every step against a model of positions, reservation and gates.
//
// Input: byte 0 picks the capacity (4096 << (low 3 bits % 5)) and the gate slots (1 + bits 4-5);
// then operations, each an opcode byte followed by its arguments (missing bytes read as 0).
// The stream model: the byte at absolute position p is pattern_at(p), a fixed pseudo-random
// sequence whose period (a prime) is no multiple of any capacity, so a view of the wrong lap or
// offset shows up as a mismatch. The writer fills every span it gets first with the complement of
// the pattern, so any overwritten readable byte is certain to differ, then with the pattern.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "ringcast/ringbuf/byte_ring.h"

namespace {

using ringcast::ringbuf::ByteRing;
using ringcast::ringbuf::kNoGate;
using ringcast::ringbuf::ReadOutcome;
using ringcast::ringbuf::Views;

constexpr std::size_t kPatternPeriod = 196613;  // prime, longer than three of the largest ring

struct Pattern {
  std::array<std::byte, kPatternPeriod> bytes;
  std::array<std::byte, kPatternPeriod> complement;
  Pattern() {
    std::uint64_t state = 0x9e3779b97f4a7c15u;
    for (std::size_t i = 0; i < kPatternPeriod; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      bytes[i] = static_cast<std::byte>(state >> 56);
      complement[i] = ~bytes[i];
    }
  }
};
const Pattern& pattern() {
  static const Pattern instance;
  return instance;
}

// Copies (or compares) the pattern for positions [from, from + length) in pieces that do not
// cross the pattern's period.
void fill(std::byte* memory, std::uint64_t from, std::size_t length, bool complement) {
  const auto& source = complement ? pattern().complement : pattern().bytes;
  while (length > 0) {
    const std::size_t index = from % kPatternPeriod;
    const std::size_t piece = std::min(length, kPatternPeriod - index);
    std::memcpy(memory, source.data() + index, piece);
    memory += piece;
    from += piece;
    length -= piece;
  }
}

void expect_stream(const std::byte* memory, std::uint64_t from, std::size_t length,
                   const char* what) {
  const std::uint64_t start = from;
  while (length > 0) {
    const std::size_t index = from % kPatternPeriod;
    const std::size_t piece = std::min(length, kPatternPeriod - index);
    if (std::memcmp(memory, pattern().bytes.data() + index, piece) != 0) {
      std::size_t i = 0;
      while (memory[i] == pattern().bytes[index + i]) ++i;
      FUZZ_CHECK(
          false, "%s: byte at position %llu (range from %llu) is 0x%02x, the stream has 0x%02x",
          what, static_cast<unsigned long long>(from + i), static_cast<unsigned long long>(start),
          static_cast<unsigned>(memory[i]), static_cast<unsigned>(pattern().bytes[index + i]));
    }
    memory += piece;
    from += piece;
    length -= piece;
  }
}

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return used_ >= size_; }
  std::uint8_t byte() { return used_ < size_ ? data_[used_++] : 0; }
  std::uint16_t u16() {
    const std::uint8_t low = byte();
    return static_cast<std::uint16_t>(low | byte() << 8);
  }
  // A value in [0, limit], spread over the 16-bit argument.
  std::uint64_t scaled(std::uint64_t limit) { return u16() * limit / 0xffff; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t used_ = 0;
};

class RingCheck {
 public:
  RingCheck(std::size_t capacity, std::size_t gate_slots)
      : ring_(capacity, gate_slots), capacity_(capacity), gates_(gate_slots, kNoGate) {}

  void reserve(std::size_t max_bytes, bool commit_all) {
    const std::size_t index = head_ & (capacity_ - 1);
    std::uint64_t end = head_ + std::min<std::uint64_t>(max_bytes, capacity_ - index);
    if (const std::uint64_t gate = oldest_gate(); gate != kNoGate) {
      end = std::min(end, std::max(head_, gate + capacity_));
    }
    reserved_ = std::max(reserved_, end);

    const std::span<std::byte> span = ring_.writable_span(max_bytes);
    FUZZ_CHECK(span.data() == const_cast<std::byte*>(ring_.data()) + index,
               "the writable span does not start at head");
    FUZZ_CHECK(span.size() == end - head_, "writable_span(%zu) gave %zu bytes, the model %llu",
               max_bytes, span.size(), static_cast<unsigned long long>(end - head_));
    for (std::size_t slot = 0; slot < gates_.size(); ++slot) {
      if (gates_[slot] < head_) {
        FUZZ_CHECK(head_ + span.size() <= gates_[slot] + capacity_,
                   "a span to %llu reaches into memory gate %zu pins at %llu",
                   static_cast<unsigned long long>(head_ + span.size()), slot,
                   static_cast<unsigned long long>(gates_[slot]));
      }
    }
    // Whatever the writer does with its span, readable and pinned bytes stay as they were.
    fill(span.data(), head_, span.size(), /*complement=*/true);
    check_after_step();
    check_readable();
    check_pinned();
    fill(span.data(), head_, span.size(), /*complement=*/false);
    span_left_ = span.size();
    if (commit_all) commit(span_left_);
  }

  void commit(std::size_t n) {
    ring_.commit(n);
    head_ += n;
    span_left_ -= n;
  }
  std::size_t span_left() const { return span_left_; }

  void read(std::uint64_t from, std::uint64_t to) {
    const auto result = ring_.views(from, to);
    const bool lapped = from < tail();
    FUZZ_CHECK((result.outcome == ReadOutcome::lapped) == lapped,
               "views(%llu, %llu) says %s, tail is %llu", static_cast<unsigned long long>(from),
               static_cast<unsigned long long>(to), lapped ? "ok" : "lapped",
               static_cast<unsigned long long>(tail()));
    if (!lapped) expect_views(result.views, from, to, "views");
  }

  void pin(std::size_t slot, std::uint64_t pos) {
    bool expected = true;
    if (pos < gates_[slot]) {
      if (pos < tail()) {
        expected = false;
      } else {
        gates_[slot] = pos;
      }
    }
    FUZZ_CHECK(ring_.pin(slot, pos) == expected, "pin(%zu, %llu) with tail %llu: expected %s", slot,
               static_cast<unsigned long long>(pos), static_cast<unsigned long long>(tail()),
               expected ? "true" : "false");
  }

  // Raises a gate (the only direction release() is for) or clears it.
  void release(std::size_t slot, std::uint64_t pos) {
    ring_.release(slot, pos);
    gates_[slot] = pos;
  }

  void read_pinned(std::size_t slot, std::uint64_t to) {
    const std::uint64_t from = gates_[slot];
    if (from == kNoGate || from > to) return;
    expect_views(ring_.pinned_views(from, to), from, to, "pinned_views");
  }

  void check_lapped(std::uint64_t pos) {
    FUZZ_CHECK(ring_.is_lapped(pos) == (pos < tail()), "is_lapped(%llu) with tail %llu",
               static_cast<unsigned long long>(pos), static_cast<unsigned long long>(tail()));
  }

  void check_after_step() {
    FUZZ_CHECK(ring_.head() == head_, "head %llu, the model %llu",
               static_cast<unsigned long long>(ring_.head()),
               static_cast<unsigned long long>(head_));
    const std::uint64_t tail_now = ring_.tail();
    FUZZ_CHECK(tail_now == tail(), "tail %llu, the model %llu",
               static_cast<unsigned long long>(tail_now), static_cast<unsigned long long>(tail()));
    FUZZ_CHECK(tail_now >= last_tail_, "tail went back from %llu to %llu",
               static_cast<unsigned long long>(last_tail_),
               static_cast<unsigned long long>(tail_now));
    FUZZ_CHECK(tail_now <= head_, "tail beyond head");
    last_tail_ = tail_now;
    for (std::size_t slot = 0; slot < gates_.size(); ++slot) {
      FUZZ_CHECK(ring_.gate(slot) == gates_[slot], "gate %zu moved on its own", slot);
      FUZZ_CHECK(gates_[slot] == kNoGate || gates_[slot] >= tail_now,
                 "gate %zu at %llu was lapped (tail %llu)", slot,
                 static_cast<unsigned long long>(gates_[slot]),
                 static_cast<unsigned long long>(tail_now));
    }
    FUZZ_CHECK(ring_.oldest_gate() == oldest_gate(), "oldest_gate disagrees with the gates");
  }

  void check_readable() {
    const auto result = ring_.views(tail(), head_);
    FUZZ_CHECK(result.outcome == ReadOutcome::ok, "the range from tail to head reads as lapped");
    expect_views(result.views, tail(), head_, "readable range");
  }

  void check_pinned() {
    for (std::uint64_t gate : gates_) {
      if (gate < head_) expect_views(ring_.pinned_views(gate, head_), gate, head_, "pinned range");
    }
  }

  std::uint64_t head() const { return head_; }
  std::uint64_t tail() const { return reserved_ > capacity_ ? reserved_ - capacity_ : 0; }
  std::uint64_t gate(std::size_t slot) const { return gates_[slot]; }
  std::size_t capacity() const { return capacity_; }
  std::size_t gate_slots() const { return gates_.size(); }

 private:
  std::uint64_t oldest_gate() const { return *std::min_element(gates_.begin(), gates_.end()); }

  void expect_views(const Views& views, std::uint64_t from, std::uint64_t to, const char* what) {
    const std::size_t length = static_cast<std::size_t>(to - from);
    FUZZ_CHECK(views.size() == length, "%s of %zu bytes cover %zu", what, length, views.size());
    FUZZ_CHECK(views.count <= 2 && (length == 0 || views.count >= 1), "%s: %zu parts", what,
               views.count);
    std::uint64_t position = from;
    for (std::size_t i = 0; i < views.count; ++i) {
      const auto& part = views.parts[i];
      FUZZ_CHECK(part.offset == (position & (capacity_ - 1)) && part.length > 0 &&
                     part.offset + part.length <= capacity_,
                 "%s: part %zu is (%zu, %zu) for position %llu", what, i, part.offset, part.length,
                 static_cast<unsigned long long>(position));
      expect_stream(ring_.data() + part.offset, position, part.length, what);
      position += part.length;
    }
  }

  ByteRing ring_;
  std::size_t capacity_;
  std::vector<std::uint64_t> gates_;
  std::uint64_t head_ = 0;
  std::uint64_t reserved_ = 0;
  std::uint64_t last_tail_ = 0;
  std::size_t span_left_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input input(data, size);
  const std::uint8_t shape = input.byte();
  RingCheck check(std::size_t{4096} << ((shape & 7) % 5), 1 + ((shape >> 4) & 3));
  const std::uint64_t capacity = check.capacity();

  while (!input.empty()) {
    const std::uint8_t opcode = input.byte();
    const std::uint64_t head = check.head();
    // Reader positions up to an eighth of a ring further back than anything readable.
    auto back_from_head = [&](std::uint64_t distance) { return head - std::min(head, distance); };
    switch (opcode % 8) {
      case 0:
      case 1: {
        const std::uint16_t wanted = input.u16();
        const std::size_t max_bytes = wanted == 0xffff ? std::numeric_limits<std::size_t>::max()
                                                       : wanted * 2 * capacity / 0xffff;
        check.reserve(max_bytes, /*commit_all=*/opcode % 8 == 1);
        break;
      }
      case 2:
        check.commit(input.scaled(check.span_left()));
        break;
      case 3: {
        const std::uint64_t from = back_from_head(input.scaled(capacity + capacity / 8));
        const std::uint64_t to = from + input.scaled(std::min(capacity, head - from));
        check.read(from, to);
        break;
      }
      case 4: {
        const std::size_t slot = input.byte() % check.gate_slots();
        check.pin(slot, back_from_head(input.scaled(capacity + capacity / 8)));
        break;
      }
      case 5: {
        const std::size_t slot = input.byte() % check.gate_slots();
        const std::uint64_t gate = check.gate(slot);
        const std::uint64_t raised = input.scaled(gate < head ? head - gate : 0);
        check.release(slot, gate == kNoGate || (opcode & 0x80) ? kNoGate : gate + raised);
        break;
      }
      case 6:
        check.check_lapped(back_from_head(input.scaled(2 * capacity)));
        break;
      case 7: {
        const std::size_t slot = input.byte() % check.gate_slots();
        const std::uint64_t gate = check.gate(slot);
        if (gate != kNoGate && gate <= head)
          check.read_pinned(slot, gate + input.scaled(head - gate));
        break;
      }
    }
    check.check_after_step();
  }
  check.check_readable();
  check.check_pinned();
  return 0;
}
