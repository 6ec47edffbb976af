// Benchmarks of ByteRing's hot operations, one thread, no contention. Hidden from ctest by the
// [!benchmark] tag; run them with `ringbuf_bench` (optionally `--benchmark-samples N`).
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ringcast/ringbuf/byte_ring.h"

namespace {

using ringcast::ringbuf::ByteRing;
using ringcast::ringbuf::kNoGate;

constexpr std::size_t kRingBytes = 1024 * 1024;
constexpr std::size_t kPacketBytes = 1400;  // about one TCP segment of a live stream

void fill(ByteRing& ring, std::size_t n) {
  while (n > 0) {
    const std::span<std::byte> span = ring.writable_span(n);
    ring.commit(span.size());
    n -= span.size();
  }
}

}  // namespace

TEST_CASE("writer: writable_span and commit of 1400 bytes", "[!benchmark]") {
  ByteRing ring(kRingBytes, 1);
  BENCHMARK("writable_span(1400) + commit") {
    const std::span<std::byte> span = ring.writable_span(kPacketBytes);
    ring.commit(span.size());
    return span.size();
  };
  BENCHMARK("writable_span(1400) + memcpy 1400 + commit") {
    static constexpr std::byte packet[kPacketBytes]{};
    const std::span<std::byte> span = ring.writable_span(kPacketBytes);
    std::memcpy(span.data(), packet, span.size());
    ring.commit(span.size());
    return span.size();
  };
}

TEST_CASE("reader: views of a 64 KiB range", "[!benchmark]") {
  ByteRing ring(kRingBytes, 1);
  fill(ring, 3 * kRingBytes + 12345);  // the ranges below start at varied offsets and wrap
  const std::uint64_t head = ring.head();
  std::uint64_t from = ring.tail();
  BENCHMARK("views(from, from + 64 KiB)") {
    const auto result = ring.views(from, from + 64 * 1024);
    from = from + 4099 < head - 64 * 1024 ? from + 4099 : ring.tail();
    return result.views.count;
  };
}

TEST_CASE("reader: pin and release pair", "[!benchmark]") {
  ByteRing ring(kRingBytes, 1);
  fill(ring, kRingBytes / 2);
  const std::uint64_t pos = ring.head() - kPacketBytes;
  BENCHMARK("pin(slot, pos) + release(slot, kNoGate)") {
    const bool pinned = ring.pin(0, pos);
    ring.release(0, kNoGate);
    return pinned;
  };
}

TEST_CASE("writer: oldest_gate with 1 and 8 slots", "[!benchmark]") {
  ByteRing one_slot(kRingBytes, 1);
  ByteRing eight_slots(kRingBytes, 8);
  fill(one_slot, 4096);
  fill(eight_slots, 4096);
  REQUIRE(one_slot.pin(0, 100));
  for (std::size_t slot = 0; slot < 8; ++slot) REQUIRE(eight_slots.pin(slot, 100 + slot));
  BENCHMARK("oldest_gate(), 1 slot") {
    return one_slot.oldest_gate();
  };
  BENCHMARK("oldest_gate(), 8 slots") {
    return eight_slots.oldest_gate();
  };
  one_slot.release(0, kNoGate);
}
