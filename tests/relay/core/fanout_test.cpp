#include "ringcast/core/fanout.h"

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

TEST_CASE("a burst never reaches back past the current source's first byte, whatever the stream",
          "[fanout]") {
  // A source returned at 400,000 (its origin) and has sent 10,000 bytes: the burst is those.
  const Framing returned_audio{400'000, 1};
  CHECK(join_position(410'000, 0, 65536, returned_audio) == 400'000);
  // Right after the return, nothing of the new source yet: the joiner starts at the live edge.
  CHECK(join_position(400'000, 0, 65536, returned_audio) == 400'000);
  // Once it has sent more than a burst, the burst is as usual.
  CHECK(join_position(500'000, 0, 65536, returned_audio) == 500'000 - 65536);
  const Framing returned_ts{400'000 + 7, 188};
  CHECK(join_position(400'000 + 7 + 188 * 10 + 5, 0, 65536, returned_ts) == 400'007);
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
