#include "ringcast/relay/fanout.h"

#include <catch2/catch.hpp>


using namespace ringcast::relay;

namespace {
const Framing kBytes{0, 1};
const Framing kTs{1000, 188};
}  // namespace

TEST_CASE("a new viewer joins a burst behind the live edge", "[fanout]") {
  CHECK(join_position(500'000, 0, 65536, kBytes) == 500'000 - 65536);
  SECTION("never below the oldest readable byte") {
    CHECK(join_position(500'000, 480'000, 65536, kBytes) == 480'000);
  }
  SECTION("at the start of a stream the burst is what exists") {
    CHECK(join_position(1000, 0, 65536, kBytes) == 0);
  }
}

TEST_CASE("MPEG-TS joins land on packet boundaries counted from the source's origin", "[fanout]") {
  for (std::uint64_t head : {1000ull + 188 * 1000, 1000ull + 188 * 1000 + 77, 1000ull + 5}) {
    const std::uint64_t join = join_position(head, 0, 65536, kTs);
    CAPTURE(head, join);
    CHECK((join - 1000) % 188 == 0);
    CHECK(join <= head);
    CHECK(join >= 1000);
  }
  // With the oldest readable byte inside a packet, the join rounds up, never down into it.
  const std::uint64_t join = join_position(1000 + 188 * 1000, 1000 + 188 * 900 + 1, 1 << 30, kTs);
  CHECK(join == 1000 + 188 * 901);
}
