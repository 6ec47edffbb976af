// When a source is read on demand, as plain values (source_hold.h).
#include "ringcast/core/source_hold.h"

#include <catch2/catch.hpp>

using namespace ringcast::relay;

namespace {

// A 128 kbit/s radio mount on one loop: one listener written once a second.
SourceHoldInput radio() {
  SourceHoldInput input;
  input.own_viewers = 1;
  input.own_period_us = 1'000'000;
  input.rate_bytes_per_second = 16'000;
  input.latency_budget_ms = 1000;
  return input;
}

}  // namespace

TEST_CASE(
    "a radio mount whose viewers are all on the writer's loop is held for two budgets of bytes") {
  CHECK(source_hold_bytes(radio()) == 32'000);
  SourceHoldInput idle = radio();
  idle.own_viewers = 0;
  idle.own_period_us = 0;  // no lane period: nobody is written
  CHECK(source_hold_bytes(idle) == 32'000);
}

TEST_CASE("the hold is bounded: a fast source within the socket's buffer, a slow one still read") {
  SourceHoldInput fast = radio();
  fast.rate_bytes_per_second = 40'000;  // 320 kbit/s
  CHECK(source_hold_bytes(fast) == kMaxHoldBytes);
  SourceHoldInput slow = radio();
  slow.rate_bytes_per_second = 300;
  CHECK(source_hold_bytes(slow) == kMinHoldBytes);
  SourceHoldInput short_budget = radio();
  short_budget.latency_budget_ms = 100;
  CHECK(source_hold_bytes(short_budget) == 3'200);
}

TEST_CASE("a source is read as bytes arrive when a hold would delay someone or hide a keyframe") {
  SourceHoldInput video = radio();
  video.video = true;
  CHECK(source_hold_bytes(video) == 0);

  SourceHoldInput elsewhere = radio();
  elsewhere.viewers_elsewhere = true;  // another loop hears of bytes only when they are read
  CHECK(source_hold_bytes(elsewhere) == 0);

  SourceHoldInput immediate = radio();
  immediate.own_period_us = 0;  // a small audience: every read is written at once
  CHECK(source_hold_bytes(immediate) == 0);
  immediate.own_period_us = kMinHoldPeriodUs - 1;
  CHECK(source_hold_bytes(immediate) == 0);
  immediate.own_period_us = kMinHoldPeriodUs;
  CHECK(source_hold_bytes(immediate) > 0);

  SourceHoldInput unmeasured = radio();
  unmeasured.rate_bytes_per_second = 0;
  CHECK(source_hold_bytes(unmeasured) == 0);

  SourceHoldInput paused = radio();
  paused.paused = true;
  CHECK(source_hold_bytes(paused) == 0);
}

TEST_CASE("a held source's low-water mark moves only for a change of a quarter or more") {
  CHECK(source_hold_changes(0, 32'000));
  CHECK(source_hold_changes(32'000, 0));
  CHECK_FALSE(source_hold_changes(0, 0));
  CHECK_FALSE(source_hold_changes(32'000, 32'000));
  CHECK_FALSE(source_hold_changes(32'000, 25'000));
  CHECK(source_hold_changes(32'000, 20'000));
  CHECK(source_hold_changes(16'000, 32'000));
}
