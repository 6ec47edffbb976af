// A relayed mount's pull rules, with time passed in: failover, back-off, stalls, going back to
// the preferred origin, linger, and what waiting listeners are told.
#include "ringcast/edge/pull_machine.h"

#include <catch2/catch.hpp>

using namespace ringcast::relay;
using Kind = PullAction::Kind;
using Actions = PullMachine::Actions;

namespace {

PullAction connect(std::size_t origin) {
  return {Kind::connect, origin};
}
PullAction probe(std::size_t origin) {
  return {Kind::probe, origin};
}
PullAction answer(std::size_t origin, int status) {
  return {Kind::answer, origin, status};
}
PullAction stop(std::size_t origin, int status) {
  return {Kind::stop, origin, status};
}
PullAction drop_probe() {
  return {Kind::drop_probe};
}

PullSettings two_origins() {
  PullSettings settings;
  settings.origins = 2;
  settings.linger_ms = 10'000;
  settings.attempt_timeout_ms = 5'000;
  settings.stall_timeout_ms = 8'000;
  settings.preferred_retry_ms = 15'000;
  settings.retry = {500, 4'000};
  return settings;
}

}  // namespace

TEST_CASE("retries back off by doubling, up to a ceiling", "[pull]") {
  const RetrySchedule retry{500, 8000};
  CHECK(retry.delay_ms(0) == 0);
  CHECK(retry.delay_ms(1) == 500);
  CHECK(retry.delay_ms(2) == 1000);
  CHECK(retry.delay_ms(4) == 4000);
  CHECK(retry.delay_ms(5) == 8000);
  CHECK(retry.delay_ms(60) == 8000);
}

TEST_CASE("a pull starts at the preferred origin and answers its waiters once it streams",
          "[pull]") {
  PullMachine pull(two_origins());
  CHECK(pull.start(1000) == Actions{connect(0)});
  CHECK(pull.start(1001).empty());  // once
  CHECK(pull.phase() == PullMachine::Phase::connecting);
  CHECK(pull.answered(0, 200, 1100) == Actions{answer(0, 200)});
  CHECK(pull.phase() == PullMachine::Phase::streaming);
  CHECK(pull.connects() == 1);
  // Streaming from the preferred origin: no probing, ever.
  CHECK(pull.tick(60'000, 1, 59'999).empty());
  CHECK_FALSE(pull.probing());
}

TEST_CASE("a refusal or a timeout fails over to the next origin at once", "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  CHECK(pull.answered(0, 503, 100) == Actions{connect(1)});
  CHECK(pull.origin() == 1);
  CHECK(pull.answered(0, 200, 110).empty());  // a late answer of an attempt given up
  CHECK(pull.answered(1, 200, 200) == Actions{answer(1, 200)});
  CHECK(pull.failures() == 1);

  PullMachine silent(two_origins());
  silent.start(0);
  CHECK(silent.tick(4'999, 0, 0).empty());
  CHECK(silent.tick(5'000, 0, 0) == Actions{connect(1)});
}

TEST_CASE("on demand, when no origin has the mount, the waiters hear 404 and the pull ends",
          "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  CHECK(pull.answered(0, 404, 10) == Actions{connect(1)});
  // The other origin fails differently: 404 tells the listener most.
  CHECK(pull.answered(1, 0, 20) == (Actions{answer(1, 404), stop(1, 404)}));
  CHECK(pull.phase() == PullMachine::Phase::stopped);
  CHECK(pull.tick(100'000, 0, 0).empty());

  PullMachine down(two_origins());
  down.start(0);
  down.answered(0, 0, 10);
  CHECK(down.answered(1, 500, 20) == (Actions{answer(1, 502), stop(1, 502)}));

  PullMachine looped(two_origins());
  looped.start(0);
  looped.answered(0, 508, 10);
  CHECK(looped.answered(1, 0, 20) == (Actions{answer(1, 508), stop(1, 508)}));
}

TEST_CASE("a lost feed reconnects from the preferred origin, backing off after failed rounds",
          "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  pull.answered(0, 200, 10);
  CHECK(pull.lost(1'000) == Actions{connect(0)});
  CHECK(pull.lost(1'001).empty());  // not streaming any more
  CHECK(pull.answered(0, 0, 1'010) == Actions{connect(1)});
  CHECK(pull.answered(1, 0, 1'020).empty());  // both down: listeners were served, so back off
  CHECK(pull.phase() == PullMachine::Phase::backing_off);
  CHECK(pull.tick(1'519, 1, 0).empty());
  CHECK(pull.tick(1'520, 1, 0) == Actions{connect(0)});  // 500 ms after the first failed round
  pull.answered(0, 0, 1'530);
  pull.answered(1, 0, 1'540);
  CHECK(pull.tick(2'539, 1, 0).empty());
  CHECK(pull.tick(2'540, 1, 0) == Actions{connect(0)});  // 1 s after the second
  CHECK(pull.failed_rounds() == 2);
  // The second origin serves: a failover, and the back-off starts over.
  pull.answered(0, 0, 2'550);
  CHECK(pull.answered(1, 200, 2'560).empty());  // the waiters were answered long ago
  CHECK(pull.failovers() == 1);
  CHECK(pull.failed_rounds() == 0);
  CHECK(pull.connects() == 2);
}

TEST_CASE("a feed that brings no byte for the stall timeout is closed and replaced", "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  pull.answered(0, 200, 1'000);
  // Bytes of an earlier feed do not count: the stall clock starts when this one did.
  CHECK(pull.tick(8'999, 1, 0).empty());
  CHECK(pull.tick(9'000, 1, 500) == (Actions{{Kind::close_feed, 0}, connect(0)}));
  CHECK(pull.stalls() == 1);
  pull.answered(0, 200, 9'100);
  CHECK(pull.tick(17'000, 1, 16'000).empty());
  CHECK(pull.tick(24'000, 1, 16'000) == (Actions{{Kind::close_feed, 0}, connect(0)}));
}

TEST_CASE("fed by a less preferred origin, the pull tries the preferred one and moves back",
          "[pull]") {
  PullSettings settings = two_origins();
  settings.origins = 3;
  PullMachine pull(settings);
  pull.start(0);
  pull.answered(0, 0, 0);
  pull.answered(1, 0, 10);
  CHECK(pull.answered(2, 200, 20) == Actions{answer(2, 200)});
  CHECK(pull.tick(15'019, 1, 15'019).empty());
  CHECK(pull.tick(15'020, 1, 15'020) == Actions{probe(0)});
  CHECK(pull.probing());
  // The first is still down: the second is tried next, at once.
  CHECK(pull.probe_answered(0, 503, 15'030) == (Actions{drop_probe(), probe(1)}));
  // It does not answer within the attempt timeout: wait another interval.
  CHECK(pull.tick(20'029, 1, 20'029).empty());
  CHECK(pull.tick(20'030, 1, 20'030) == Actions{drop_probe()});
  CHECK_FALSE(pull.probing());
  CHECK(pull.tick(35'029, 1, 35'029).empty());
  CHECK(pull.tick(35'030, 1, 35'030) == Actions{probe(0)});
  // The preferred origin is back: it takes the feed over.
  CHECK(pull.probe_answered(0, 200, 35'040) == Actions{{Kind::adopt_probe, 0}});
  CHECK(pull.origin() == 0);
  CHECK(pull.phase() == PullMachine::Phase::streaming);
  CHECK(pull.failovers() == 1);  // the first feed came from origin 2: no failover then
  CHECK(pull.tick(100'000, 1, 100'000).empty());  // no more probes from the preferred origin
}

TEST_CASE("a feed lost while probing drops the probe and starts over at the preferred origin",
          "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  pull.answered(0, 0, 0);
  pull.answered(1, 200, 10);
  CHECK(pull.tick(15'010, 1, 15'010) == Actions{probe(0)});
  CHECK(pull.lost(15'020) == (Actions{drop_probe(), connect(0)}));
  CHECK(pull.probe_answered(0, 200, 15'030).empty());  // too late: not streaming
}

TEST_CASE("an on-demand pull lingers after its last listener, then stops", "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  // Before its first answer a pull has waiters, not listeners: no linger.
  CHECK(pull.tick(4'000, 0, 0).empty());
  pull.answered(0, 200, 4'100);
  CHECK(pull.tick(5'000, 3, 5'000).empty());
  CHECK(pull.tick(6'000, 0, 6'000).empty());  // the last one left
  CHECK(pull.tick(15'999, 0, 15'999).empty());
  CHECK(pull.tick(16'000, 2, 16'000).empty());  // two came back: the clock starts over
  CHECK(pull.tick(17'000, 0, 17'000).empty());
  CHECK(pull.tick(27'000, 0, 27'000) == Actions{stop(0, 0)});
  CHECK(pull.phase() == PullMachine::Phase::stopped);
}

TEST_CASE("linger ends a pull that is retrying for nobody", "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  pull.answered(0, 200, 0);
  pull.lost(1'000);
  pull.answered(0, 0, 1'010);
  pull.answered(1, 0, 1'020);
  CHECK(pull.tick(1'100, 0, 0).empty());
  CHECK(pull.tick(11'100, 0, 0) == Actions{stop(1, 0)});
}

TEST_CASE("a static relay never lingers and keeps retrying", "[pull]") {
  PullSettings settings = two_origins();
  settings.on_demand = false;
  PullMachine pull(settings);
  pull.start(0);
  pull.answered(0, 404, 10);
  // Whoever waits meanwhile hears why; the pull backs off and tries again.
  CHECK(pull.answered(1, 404, 20) == Actions{answer(1, 404)});
  CHECK(pull.phase() == PullMachine::Phase::backing_off);
  CHECK(pull.tick(520, 0, 0) == Actions{connect(0)});
  CHECK(pull.answered(0, 200, 600) == Actions{answer(0, 200)});
  CHECK(pull.tick(1'000'000, 0, 1'000'000).empty());
  CHECK(pull.phase() == PullMachine::Phase::streaming);
}

TEST_CASE("stopping answers any waiters first", "[pull]") {
  PullMachine pull(two_origins());
  pull.start(0);
  CHECK(pull.stop() == (Actions{answer(0, 502), stop(0, 0)}));
  CHECK(pull.stop().empty());
  CHECK(pull.answered(0, 200, 10).empty());

  PullMachine serving(two_origins());
  serving.start(0);
  serving.answered(0, 200, 10);
  CHECK(serving.stop() == Actions{stop(0, 0)});
}
