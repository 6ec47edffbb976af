#include "ringcast/relay/fanout.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace ringcast::relay;

namespace {
constexpr std::size_t kRing = 1 << 20;
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

TEST_CASE("coalescing delay grows with the audience up to its maximum", "[fanout]") {
  FanoutSettings settings;
  settings.max_delay_ms = 40;
  settings.full_delay_audience = 1000;
  CHECK(effective_delay_ms(settings, 1) == 0);
  CHECK(effective_delay_ms(settings, 100) == 4);
  CHECK(effective_delay_ms(settings, 1000) == 40);
  CHECK(effective_delay_ms(settings, 10000) == 40);
}

TEST_CASE("a caught-up viewer waits, new bytes are written when due", "[fanout]") {
  FanoutSettings settings;
  settings.coalesce_bytes = 16 * 1024;
  const RingState ring{100'000, 0, kRing};

  SECTION("nothing pending: idle") {
    CHECK(decide(settings, {100'000, 0}, ring, kBytes, 10, 5000).action == Action::idle);
  }
  SECTION("no delay: written at once") {
    const Decision d = decide(settings, {99'000, 0}, ring, kBytes, 0, 5000);
    CHECK(d.action == Action::write);
    CHECK(d.from == 99'000);
    CHECK(d.to == 100'000);
  }
  SECTION("small and young: waits") {
    CHECK(decide(settings, {99'000, 4995}, ring, kBytes, 10, 5000).action == Action::idle);
  }
  SECTION("small but waited long enough: written") {
    CHECK(decide(settings, {99'000, 4990}, ring, kBytes, 10, 5000).action == Action::write);
  }
  SECTION("enough bytes: written without waiting") {
    CHECK(decide(settings, {80'000, 4999}, ring, kBytes, 10, 5000).action == Action::write);
  }
}

TEST_CASE("one write never exceeds max_write_bytes", "[fanout]") {
  FanoutSettings settings;
  settings.max_write_bytes = 1000;
  const Decision d = decide(settings, {10'000, 0}, {50'000, 0, kRing}, kBytes, 0, 1);
  CHECK(d.action == Action::write);
  CHECK(d.to - d.from == 1000);
}

TEST_CASE("a lapped or too-slow viewer is skipped to a packet boundary at the live edge", "[fanout]") {
  FanoutSettings settings;
  settings.max_lag_bytes = kRing / 2;
  const std::uint64_t head = 1000 + 188 * 20'000 + 50;
  const RingState ring{head, head > kRing ? head - kRing : 0, kRing};

  SECTION("lapped") {
    const Decision d = decide(settings, {head - kRing - 1, 0}, ring, kTs, 0, 1);
    CHECK(d.action == Action::skip);
    CHECK(d.to == head - 50);
    CHECK((d.to - 1000) % 188 == 0);
  }
  SECTION("too far behind although still readable") {
    const std::uint64_t behind = 1000 + 188 * 17'000;  // a packet boundary, 564,050 bytes behind
    CHECK(decide(settings, {behind, 0}, ring, kTs, 0, 1).action == Action::skip);
    CHECK(decide(settings, {head - kRing / 2, 0}, ring, kTs, 0, 1).action == Action::write);
  }
  SECTION("a viewer inside a packet first gets the rest of that packet, then is skipped") {
    const std::uint64_t inside = 1000 + 188 * 17'000 + 100;
    const Decision finish = decide(settings, {inside, 0}, ring, kTs, 0, 1);
    CHECK(finish.action == Action::write);
    CHECK(finish.from == inside);
    CHECK(finish.to == inside + 88);
    CHECK(decide(settings, {inside + 88, 0}, ring, kTs, 0, 1).action == Action::skip);
  }
  SECTION("the disconnect policy drops it instead") {
    settings.slow_action = SlowViewerAction::disconnect;
    CHECK(decide(settings, {head - kRing - 1, 0}, ring, kTs, 0, 1).action == Action::disconnect);
  }
}

TEST_CASE("MPEG-TS writes end on a packet boundary, so a waiting viewer is never inside a packet", "[fanout]") {
  FanoutSettings settings;
  const std::uint64_t boundary = 1000 + 188 * 500;
  const RingState ring{boundary + 188 * 10 + 50, 0, kRing};  // 10 packets and 50 bytes more

  const Decision d = decide(settings, {boundary, 0}, ring, kTs, 0, 1);
  CHECK(d.action == Action::write);
  CHECK(d.from == boundary);
  CHECK(d.to == boundary + 188 * 10);  // the partial packet waits for its rest
  SECTION("less than the rest of a packet pending: wait") {
    CHECK(decide(settings, {boundary + 188 * 10, 0}, ring, kTs, 0, 1).action == Action::idle);
  }
  SECTION("a viewer inside a packet (joined before framing was known) is brought to a boundary") {
    const Decision inside = decide(settings, {boundary + 7, 0}, ring, kTs, 0, 1);
    CHECK(inside.action == Action::write);
    CHECK(inside.to == boundary + 188 * 10);
  }
  SECTION("when the stream ends the partial packet goes out too") {
    const Decision last = decide(settings, {boundary + 188 * 10, 0}, ring, kTs, 0, 1, true);
    CHECK(last.action == Action::write);
    CHECK(last.to == ring.head);
  }
  SECTION("a write cut by --max-write-bytes also ends on a boundary") {
    settings.max_write_bytes = 1000;
    CHECK(decide(settings, {boundary, 0}, ring, kTs, 0, 1).to == boundary + 188 * 5);
  }
  SECTION("a --max-write-bytes below a packet still makes progress") {
    settings.max_write_bytes = 100;
    CHECK(decide(settings, {boundary, 0}, ring, kTs, 0, 1).to == boundary + 100);
  }
  SECTION("streams without framing are written to the last byte") {
    CHECK(decide(settings, {boundary, 0}, ring, kBytes, 0, 1).to == ring.head);
  }
}

TEST_CASE("the flush wheel brings each slot round once per delay, spread over it", "[fanout]") {
  FlushWheel wheel;
  std::vector<std::size_t> visited;
  const auto visit = [&](std::size_t slot) { visited.push_back(slot); };
  const std::uint64_t delay = 16'000;  // us: one slot per 1,000 us

  wheel.advance(1'000'000, delay, visit);  // starts the wheel: nothing is due yet
  CHECK(visited.empty());
  wheel.advance(1'000'999, delay, visit);
  CHECK(visited.empty());
  wheel.advance(1'001'000, delay, visit);
  CHECK(visited == std::vector<std::size_t>{0});

  SECTION("a tick that spans several steps takes each slot in order, once") {
    wheel.advance(1'004'500, delay, visit);
    CHECK(visited == std::vector<std::size_t>{0, 1, 2, 3});
  }
  SECTION("every slot comes round once per delay") {
    for (std::uint64_t t = 1'001'250; t <= 1'001'000 + 2 * delay; t += 250) wheel.advance(t, delay, visit);
    REQUIRE(visited.size() == 2 * FlushWheel::kSlots + 1);
    for (std::size_t i = 0; i < visited.size(); ++i) CHECK(visited[i] == i % FlushWheel::kSlots);
  }
  SECTION("a loop that fell far behind catches up one round, not every round it missed") {
    wheel.advance(1'001'000 + 10 * delay, delay, visit);
    CHECK(visited.size() == 1 + FlushWheel::kSlots);
    visited.clear();
    wheel.advance(1'001'000 + 10 * delay + 500, delay, visit);  // and then goes on in step
    CHECK(visited.empty());
    wheel.advance(1'001'000 + 10 * delay + 1'000, delay, visit);
    CHECK(visited == std::vector<std::size_t>{1});
  }
  SECTION("a delay of zero stops the wheel; it restarts a step after the next delay") {
    wheel.advance(1'002'000, 0, visit);
    CHECK(visited.size() == 1);
    wheel.advance(1'050'000, delay, visit);
    CHECK(visited.size() == 1);
    wheel.advance(1'051'000, delay, visit);
    CHECK(visited.size() == 2);
  }
}

TEST_CASE("a busy loop stretches the delay, up to a limit", "[fanout]") {
  CHECK(loaded_delay_ms(80, 0.0) == 80);
  CHECK(loaded_delay_ms(80, kStretchFromBusy) == 80);
  CHECK(loaded_delay_ms(80, 0.75) == 120);
  CHECK(loaded_delay_ms(80, 1.0) == 160);
  CHECK(loaded_delay_ms(80, 5.0) == static_cast<std::uint32_t>(80 * kMaxDelayStretch));
  CHECK(loaded_delay_ms(0, 1.0) == 0);
}
