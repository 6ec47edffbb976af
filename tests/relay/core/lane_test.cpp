// The fan-out's rules, tested as numbers: a Lane gets events with the time passed in, and a
// small model of the sockets (each viewer's kernel takes everything, or nothing) applies its
// actions. No socket, no loop, no clock.
#include "ringcast/core/lane.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "ringcast/ringbuf/byte_ring.h"

using namespace ringcast::relay;
using ringcast::ringbuf::kNoGate;

namespace {

constexpr std::size_t kRing = 1 << 20;
constexpr std::uint64_t kSecond = 1'000'000;

Lane::Settings settings_for(std::size_t capacity = kRing) {
  Lane::Settings s;
  s.capacity = capacity;
  s.write_target_bytes = 16 * 1024;
  s.latency_budget_ms = 1000;
  s.full_audience = 800;
  s.max_write_bytes = 256 * 1024;
  return s;
}

struct Write {
  std::uint64_t from, to, at_us;
  std::uint64_t block_after = 0;
};

// The lane plus a model of what applying its actions does: a viewer's kernel takes every write
// at once, or (while `stuck`) nothing, leaving the write in flight.
struct Harness {
  explicit Harness(const Lane::Settings& s, Framing framing = {0, 1}) : lane(s) {
    ring.framing = framing;
  }

  Lane lane;
  RingView ring;
  LoopLoad load{1, 0};
  std::uint64_t now = kSecond;
  std::map<ViewerId, std::vector<Write>> writes;
  std::map<ViewerId, std::uint64_t> skips, closes, finishes;
  std::set<ViewerId> stuck;
  std::set<ViewerId> in_flight;
  std::map<ViewerId, std::uint64_t> in_flight_from;

  ViewerId join(std::uint64_t position, std::uint32_t metaint = 0) {
    return join(position, JoinOptions{metaint});
  }
  ViewerId join(std::uint64_t position, const JoinOptions& options) {
    const ViewerId id = lane.add(position, options);
    start(id);
    return id;
  }
  void start(ViewerId id) {
    LaneActions out;
    lane.start(id, ring, out);
    apply(out);
  }
  // A bounded read of [from, end), as an HLS segment is served.
  ViewerId read_range(std::uint64_t from, std::uint64_t end) {
    JoinOptions options;
    options.end = end;
    return join(from, options);
  }
  void commit(std::uint64_t bytes) {
    ring.head += bytes;
    if (ring.head > kRing) ring.oldest = std::max(ring.oldest, ring.head - kRing);
    LaneActions out;
    lane.commit(ring, load, now, out);
    apply(out);
  }
  // Runs the clock to `until`, ticking whenever the lane asks.
  void run_until(std::uint64_t until) {
    while (const auto next = lane.next_tick_us()) {
      if (*next > until) break;
      now = std::max(now, *next);
      LaneActions out;
      lane.tick(ring, load, now, out);
      apply(out);
    }
    now = until;
  }
  void complete(ViewerId id) {
    stuck.erase(id);
    in_flight.erase(id);
    LaneActions out;
    lane.write_done(id, ring, out);
    apply(out);
  }
  void apply(LaneActions& out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      const LaneAction a = out[i];
      switch (a.kind) {
        case LaneAction::Kind::write:
          REQUIRE(a.from >= ring.oldest);  // invariant 1: never overwritten bytes
          REQUIRE(a.to <= ring.head);
          REQUIRE(lane.gate() <= a.from);           // the gate covers what is about to be read
          REQUIRE(in_flight.count(a.viewer) == 0);  // one write in flight per viewer
          writes[a.viewer].push_back({a.from, a.to, now, a.block_after});
          if (stuck.count(a.viewer)) {
            in_flight.insert(a.viewer);
            in_flight_from[a.viewer] = a.from;
            lane.wrote(a.viewer, a.from, ring, out);
          } else {
            lane.wrote(a.viewer, a.to, ring, out);
          }
          break;
        case LaneAction::Kind::skip:
          ++skips[a.viewer];
          break;
        case LaneAction::Kind::close:
          ++closes[a.viewer];
          in_flight.erase(a.viewer);
          lane.remove(a.viewer);
          break;
        case LaneAction::Kind::finish:
          ++finishes[a.viewer];
          lane.remove(a.viewer);
          break;
      }
    }
    out.clear();
    for (const ViewerId id : in_flight) REQUIRE(lane.gate() <= in_flight_from[id]);
  }
  std::size_t write_count() const {
    std::size_t n = 0;
    for (const auto& [id, list] : writes) n += list.size();
    return n;
  }
};

}  // namespace

TEST_CASE("the write period aims at the write target at the measured rate, within the budget",
          "[lane]") {
  const Lane lane(settings_for());
  const LoopLoad full{800, 0};
  SECTION("128 kbit/s radio: the budget binds (16 KiB would take 1.02 s)") {
    CHECK(lane.period_for(full, 16'000) == 1'000'000);
  }
  SECTION("1 Mbit/s video: 16 KiB at 125,000 B/s") {
    CHECK(lane.period_for(full, 125'000) == 131'072);
  }
  SECTION("8 Mbit/s: 16 KiB every 16 ms") {
    CHECK(lane.period_for(full, 1'000'000) == 16'384);
  }
  SECTION("no rate measured yet: 100 ms, or the budget if shorter") {
    CHECK(lane.period_for(full, 0) == 100'000);
  }
  SECTION("a small audience gets a shorter period: the loop's writes per second stay bounded") {
    CHECK(lane.period_for({80, 0}, 125'000) == 13'107);
    CHECK(lane.period_for({400, 0}, 16'000) == 500'000);
  }
  SECTION("one viewer is written every commit") {
    CHECK(lane.period_for({1, 0}, 125'000) == 0);
  }
  SECTION("a busy loop aims at larger writes, never past the budget") {
    CHECK(lane.period_for({800, 0.7}, 1'000'000) == 16'384);
    CHECK(lane.period_for({800, 1.4}, 1'000'000) == 32'768);
    CHECK(lane.period_for({800, 5.0}, 1'000'000) == 49'152);  // at most kMaxStretch
    CHECK(lane.period_for({800, 5.0}, 16'000) == 1'000'000);
  }
}

TEST_CASE("a new viewer gets its burst at once when it starts, and nothing before", "[lane]") {
  Harness h(settings_for());
  h.ring.head = 200'000;
  const ViewerId id = h.lane.add(200'000 - 65'536);
  CHECK(h.writes.empty());
  h.start(id);
  REQUIRE(h.writes[id].size() == 1);
  CHECK(h.writes[id][0].from == 200'000 - 65'536);
  CHECK(h.writes[id][0].to == 200'000);
}

TEST_CASE("a paused viewer is written nothing until it starts again, then gets all it missed",
          "[lane]") {
  // A join whose response head went out only in part waits for the rest (ViewerSession).
  Harness h(settings_for());
  h.ring.head = 200'000;
  const ViewerId id = h.join(200'000);  // at the live edge: nothing to write yet
  CHECK(h.writes[id].empty());
  h.lane.pause(id);
  h.commit(1000);
  h.run_until(h.now + 2 * kSecond);
  CHECK(h.writes[id].empty());
  h.start(id);
  REQUIRE(h.writes[id].size() == 1);
  CHECK(h.writes[id][0].from == 200'000);
  CHECK(h.writes[id][0].to == 201'000);
}

TEST_CASE("a small audience is written every commit", "[lane]") {
  Harness h(settings_for());
  const ViewerId a = h.join(0);
  const ViewerId b = h.join(0);
  h.load = {2, 0};
  for (int i = 0; i < 10; ++i) {
    h.commit(1000);
    h.now += 10'000;
  }
  CHECK(h.writes[a].size() == 10);
  CHECK(h.writes[b].size() == 10);
  CHECK(h.writes[a].back().to == 10'000);
}

TEST_CASE("a full audience is written once a period, in steps of 1,024 writes or a quarter period",
          "[lane]") {
  // At 1 Mbit/s (131 ms periods) 160 viewers fit in one step: all of them each period; 4,096
  // are sixteen slots of 256, serviced four at a time: 1,024 a step, four steps a period. At
  // 8 Mbit/s (16 ms periods) a step may hold 16,384 / (10 * 4) = 409 writes: 1,024 viewers
  // go in four steps of 256.
  struct Case {
    int audience;
    std::size_t per_step;
    std::uint64_t commit_every_us;  // 1316-byte commits
  };
  const Case c = GENERATE(Case{160, 160, 10'528}, Case{4096, 1024, 10'528}, Case{1024, 256, 1'316});
  INFO(c.audience << " viewers, a commit every " << c.commit_every_us << " us");
  Harness h(settings_for());
  h.load = {800, 0};
  std::vector<ViewerId> viewers;
  for (int i = 0; i < c.audience; ++i) viewers.push_back(h.join(0));
  h.writes.clear();
  const std::uint64_t start = h.now;
  for (std::uint64_t t = start; t < start + 5 * kSecond; t += c.commit_every_us) {
    h.run_until(t);
    const std::size_t before = h.write_count();
    h.commit(1316);
    CHECK(h.write_count() == before);  // a commit alone writes nothing at a full audience
  }
  // Once the rate is measured, each viewer is written once per period (16 KiB at the rate).
  const double period_us = 16384.0 * static_cast<double>(c.commit_every_us) / 1316.0;
  const double periods = 3.0 * kSecond / period_us;
  const std::uint64_t measured_from = start + 2 * kSecond;
  for (const ViewerId id : viewers) {
    std::size_t n = 0;
    for (const Write& w : h.writes[id]) n += w.at_us >= measured_from;
    CHECK(n >= 0.9 * periods);
    CHECK(n <= 1.1 * periods);
  }
  std::map<std::uint64_t, std::size_t> per_instant;
  for (const auto& [id, list] : h.writes) {
    for (const Write& w : list) {
      if (w.at_us >= measured_from) ++per_instant[w.at_us];
    }
  }
  std::size_t full_steps = 0;
  for (const auto& [at, n] : per_instant) {
    CHECK(n <= c.per_step);
    full_steps += n == c.per_step;
  }
  const double steps_per_period = static_cast<double>(c.audience) / static_cast<double>(c.per_step);
  CHECK(full_steps >= 0.9 * periods * steps_per_period);
  CHECK(per_instant.size() <= 1.1 * periods * steps_per_period);
}

TEST_CASE("unaligned MPEG-TS commits cost no more writes than aligned ones", "[lane]") {
  // A source whose reads end mid-packet (4096-byte writes, or a write per 40 ms frame) must not
  // make a write per viewer per read: the partial packet waits for its rest, at no cost.
  const auto writes_for = [](std::size_t chunk, std::uint64_t interval_us) {
    Harness h(settings_for(), Framing{0, 188});
    h.load = {800, 0};
    std::vector<ViewerId> viewers;
    for (int i = 0; i < 32; ++i) viewers.push_back(h.join(0));
    h.writes.clear();
    const std::uint64_t start = h.now;
    for (std::uint64_t t = start; t < start + 6 * kSecond; t += interval_us) {
      h.run_until(t);
      h.commit(chunk);
    }
    std::size_t n = 0;
    for (const auto& [id, list] : h.writes) {
      for (const Write& w : list) {
        CHECK(w.from % 188 == 0);
        CHECK(w.to % 188 == 0);  // a skip from any of these never splices two packets
        n += w.at_us >= start + 2 * kSecond;
      }
    }
    return n;
  };
  const std::size_t aligned = writes_for(1316, 10'528);  // 1 Mbit/s
  const std::size_t unaligned = writes_for(4096, 32'768);
  const std::size_t frames = writes_for(5000, 40'000);
  CAPTURE(aligned, unaligned, frames);
  CHECK(unaligned <= aligned * 105 / 100);
  CHECK(frames <= aligned * 105 / 100);
}

TEST_CASE("a partial packet waits for its rest, and goes out when the stream ends", "[lane]") {
  Harness h(settings_for(), Framing{1000, 188});
  h.ring.head = 1000;
  const ViewerId id = h.join(1000);
  h.commit(188 * 10 + 50);
  REQUIRE(h.writes[id].size() == 1);
  CHECK(h.writes[id][0].to == 1000 + 188 * 10);
  h.commit(100);  // still 38 bytes short
  CHECK(h.writes[id].size() == 1);
  h.commit(38);
  REQUIRE(h.writes[id].size() == 2);
  CHECK(h.writes[id][1].to == 1000 + 188 * 11);
  h.commit(7);
  SECTION("the source goes quiet inside a packet: after kQuietFlushUs the rest goes out, once") {
    h.run_until(h.now + Lane::kQuietFlushUs - 1);
    CHECK(h.writes[id].size() == 2);
    h.run_until(h.now + 10 * Lane::kQuietFlushUs);
    REQUIRE(h.writes[id].size() == 3);
    CHECK(h.writes[id][2].to == h.ring.head);
    CHECK_FALSE(h.lane.next_tick_us());
    h.commit(181);  // the packet's rest, and a whole one after it
    h.run_until(h.now + 10'000);
    REQUIRE(h.writes[id].size() == 4);
    CHECK(h.writes[id][3].to == 1000 + 188 * 12);
  }
  SECTION("the stream ends: the partial packet goes, then the viewer finishes") {
    LaneActions out;
    h.lane.finish(h.ring, out);
    h.apply(out);
    REQUIRE(h.writes[id].size() == 3);
    CHECK(h.writes[id][2].to == h.ring.head);
    CHECK(h.finishes[id] == 1);
  }
}

TEST_CASE("a source quiet inside a packet before each write costs no writes beyond the period",
          "[lane]") {
  // 128 kbit/s MPEG-TS in 4 KiB writes, one every 256 ms, or in one write a second: each write
  // ends inside a packet, and the source is quiet for longer than kQuietFlushUs before the next.
  const auto [chunk, interval_us] =
      GENERATE(std::pair<std::size_t, std::uint64_t>{4096, 256'000},
               std::pair<std::size_t, std::uint64_t>{16'000, 1'000'000});
  CAPTURE(chunk);
  Harness h(settings_for(), Framing{0, 188});
  h.load = {1000, 0};
  std::vector<ViewerId> viewers;
  for (int i = 0; i < 1000; ++i) viewers.push_back(h.join(0));
  const auto writes = [&] {
    std::size_t n = 0;
    for (const ViewerId id : viewers) n += h.writes[id].size();
    return n;
  };
  const auto stream_for = [&](std::uint64_t us) {
    for (const std::uint64_t until = h.now + us; h.now < until;) {
      h.commit(chunk);
      h.run_until(h.now + interval_us);
    }
  };
  stream_for(5 * kSecond);  // the rate is measured, the wheel turns once a second
  REQUIRE(h.lane.period_us() == 1'000'000);
  const std::size_t before = writes();
  stream_for(10 * kSecond);
  // One write a period each (and one for the period under way); a write per source write
  // would be four times as many.
  CHECK(writes() - before <= 1000 * 11);
  CHECK(writes() - before >= 1000 * 9);
  // The source stops inside a packet: after a quiet period, everyone has it all.
  h.run_until(h.now + kSecond + Lane::kQuietFlushUs + 1000);
  for (const ViewerId id : viewers) {
    REQUIRE_FALSE(h.writes[id].empty());
    CHECK(h.writes[id].back().to == h.ring.head);
  }
  CHECK_FALSE(h.lane.next_tick_us());
}

TEST_CASE("streams without framing are written to the last byte", "[lane]") {
  Harness h(settings_for());
  const ViewerId id = h.join(0);
  h.commit(12'345);
  REQUIRE(h.writes[id].size() == 1);
  CHECK(h.writes[id][0].to == 12'345);
}

TEST_CASE("a write is capped at max_write_bytes, on a boundary, and a backlog keeps going",
          "[lane]") {
  Lane::Settings s = settings_for();
  s.max_write_bytes = 1000;
  Harness h(s, Framing{0, 188});
  h.ring.head = 188 * 20;
  const ViewerId id = h.join(0);
  // The kernel took each write whole, so the viewer went on until its backlog was gone.
  REQUIRE(h.writes[id].size() == 4);
  CHECK(h.writes[id][0].to == 188 * 5);
  CHECK(h.writes[id].back().to == 188 * 20);
  SECTION("a max_write_bytes below a packet still makes progress") {
    s.max_write_bytes = 100;
    Harness small(s, Framing{0, 188});
    small.ring.head = 1000;
    const ViewerId v = small.join(0);
    CHECK(small.writes[v].front().to == 100);
    for (const Write& w : small.writes[v]) CHECK(w.to - w.from <= 100);
    CHECK(small.writes[v].back().to > 188 * 4);  // on through the packets, in pieces
  }
}

TEST_CASE("a lapped or too-slow viewer is skipped to a packet boundary at the live edge",
          "[lane]") {
  Harness h(settings_for(), Framing{1000, 188});
  const std::uint64_t head = 1000 + 188 * 20'000 + 50;
  h.ring.head = head;
  h.ring.oldest = head - kRing;
  SECTION("lapped") {
    const ViewerId id = h.join(head - kRing - 1);
    CHECK(h.skips[id] == 1);
    CHECK(h.lane.position(id) == head - 50);
    CHECK(h.writes[id].empty());
  }
  SECTION("too far behind although still readable") {
    const ViewerId far = h.join(1000 + 188 * 17'000);  // 564,050 bytes behind: over half the ring
    CHECK(h.skips[far] == 1);
    const ViewerId near = h.join(1000 + 188 * 18'000);
    CHECK(h.skips[near] == 0);
    CHECK_FALSE(h.writes[near].empty());
  }
  SECTION("a viewer inside a packet first gets the rest of that packet, then is skipped") {
    const std::uint64_t inside = 1000 + 188 * 17'000 + 100;
    const ViewerId id = h.join(inside);
    REQUIRE(h.writes[id].size() == 1);
    CHECK(h.writes[id][0].from == inside);
    CHECK(h.writes[id][0].to == inside + 88);
    h.commit(0);
    CHECK(h.skips[id] == 1);
  }
  SECTION("the disconnect policy closes it instead") {
    Lane::Settings s = settings_for();
    s.slow_action = SlowViewerAction::disconnect;
    Harness d(s, Framing{1000, 188});
    d.ring = h.ring;
    const ViewerId id = d.join(head - kRing - 1);
    CHECK(d.closes[id] == 1);
  }
}

TEST_CASE("a write that finds its start overwritten skips to the live edge", "[lane]") {
  Harness h(settings_for(), Framing{0, 188});
  h.ring.head = 188 * 100;
  const ViewerId id = h.lane.add(0);
  LaneActions out;
  h.lane.start(id, h.ring, out);
  REQUIRE(out.size() == 1);
  h.ring.head = 188 * 10'000;  // the writer lapped it before the write was applied
  out.clear();
  h.lane.lapped(id, h.ring, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == LaneAction::Kind::skip);
  CHECK(out[0].to == 188 * 10'000);
  CHECK(h.lane.gate() == kNoGate);
}

TEST_CASE("a viewer in flight at its turn is written as soon as its write completes", "[lane]") {
  Harness h(settings_for());
  h.load = {800, 0};
  const ViewerId id = h.join(0);
  h.stuck.insert(id);
  h.commit(1000);
  const std::uint64_t start = h.now;
  for (int i = 0; i < 50; ++i) {
    h.commit(1000);
    h.run_until(h.now + 10'000);
  }
  REQUIRE(h.writes[id].size() == 1);  // the first write is stuck in flight
  h.now = start + 600'000;
  h.complete(id);
  REQUIRE(h.writes[id].size() == 2);
  CHECK(h.writes[id][1].to == h.ring.head);
}

TEST_CASE("the gate covers every in-flight write, and rises as writes complete", "[lane]") {
  Harness h(settings_for());
  h.ring.head = 100'000;
  CHECK(h.lane.gate() == kNoGate);
  const ViewerId a = h.lane.add(50'000);
  const ViewerId b = h.lane.add(90'000);
  h.stuck = {a, b};
  LaneActions out;
  h.lane.start(a, h.ring, out);
  h.lane.start(b, h.ring, out);
  h.apply(out);
  CHECK(h.lane.gate() <= 50'000);
  CHECK(h.lane.gate() > 50'000 - kRing / 32);  // exact to a bucket (a 32nd of the ring)
  SECTION("the kernel took part of a's write") {
    h.lane.progressed(a, 80'000);
    CHECK(h.lane.gate() <= 80'000);
    CHECK(h.lane.gate() > 50'000);
  }
  SECTION("a completes: only b holds the gate") {
    h.complete(a);
    CHECK(h.lane.gate() <= 90'000);
    CHECK(h.lane.gate() > 90'000 - kRing / 32);
    h.complete(b);
    CHECK(h.lane.gate() == kNoGate);
  }
  SECTION("a viewer that leaves with a write in flight no longer holds it") {
    h.lane.remove(a);
    CHECK(h.lane.gate() > 50'000);
  }
}

TEST_CASE("viewers whose in-flight write pins memory the writer needs are closed", "[lane]") {
  Harness h(settings_for());
  h.ring.head = 100'000;
  const ViewerId stalled = h.lane.add(10'000);
  const ViewerId healthy = h.lane.add(60'000);
  const ViewerId idle = h.lane.add(100'000);
  h.stuck = {stalled, healthy};
  LaneActions out;
  for (const ViewerId id : {stalled, healthy, idle}) h.lane.start(id, h.ring, out);
  h.apply(out);
  h.lane.evict_below(40'000, out);
  h.apply(out);
  CHECK(h.closes[stalled] == 1);
  CHECK(h.closes.count(healthy) == 0);
  CHECK(h.closes.count(idle) == 0);
  CHECK(h.lane.gate() <= 60'000);
  CHECK(h.lane.gate() >= 40'000);
}

TEST_CASE("a new source never gets the last packet its predecessor cut short", "[lane]") {
  // The old source left 50 bytes into a packet at 10,050; the new one starts at 10,050.
  Harness h(settings_for(), Framing{0, 188});
  h.ring.head = 188 * 53;  // 9,964: whole packets
  const ViewerId id = h.join(188 * 53);
  h.commit(50);  // the old source's last, cut packet
  CHECK(h.writes[id].empty());
  h.ring.framing = Framing{188 * 53 + 50, 188, 188 * 53};
  h.commit(188 * 3);
  REQUIRE(h.writes[id].size() == 1);
  CHECK(h.writes[id][0].from == 188 * 53 + 50);
  CHECK(h.writes[id][0].to == 188 * 56 + 50);
}

TEST_CASE("an idle lane asks for no tick until the next commit starts the wheel", "[lane]") {
  Harness h(settings_for());
  h.load = {800, 0};
  h.join(0);
  CHECK_FALSE(h.lane.next_tick_us());
  h.commit(1000);
  REQUIRE(h.lane.next_tick_us());
  h.run_until(h.now + 2 * kSecond);  // the write goes out, then nothing waits
  CHECK_FALSE(h.lane.next_tick_us());
  h.commit(1000);
  CHECK(h.lane.next_tick_us());
}

TEST_CASE("a lane whose source is held ticks once per period for its one viewer, and what was read just before a tick goes out in it", "[lane]") {
  Harness h(settings_for());
  h.load = {800, 0};  // a full audience: the whole period
  const ViewerId id = h.join(0);
  for (int i = 0; i < 30; ++i) {  // 3 s of 128 kbit/s as bytes arrive: the rate is measured
    h.commit(1600);
    h.run_until(h.now + kSecond / 10);
  }
  h.run_until(h.now + 2 * kSecond);
  REQUIRE(h.lane.period_us() == kSecond);  // the budget: 16 KiB take longer at 16 kB/s
  REQUIRE_FALSE(h.lane.next_tick_us());  // caught up and not held: stopped
  const std::size_t before = h.writes[id].size();

  h.lane.hold_source(true, h.now);
  CHECK(h.lane.source_held());
  const std::uint64_t start = h.now;
  std::size_t ticks = 0;
  while (const auto next = h.lane.next_tick_us()) {
    if (*next > start + 5 * kSecond) break;
    h.now = *next;
    // The writer's loop reads the held source right before the lane's tick: a period's bytes.
    h.commit(16'000);
    LaneActions out;
    h.lane.tick(h.ring, h.load, h.now, out);
    h.apply(out);
    ++ticks;
    REQUIRE(h.writes[id].size() == before + ticks);
    CHECK(h.writes[id].back().to == h.ring.head);  // everything read, at once
    CHECK(h.writes[id].back().at_us == h.now);
  }
  CHECK(ticks >= 4);  // once a period for its one slot, not at every step of the wheel
  CHECK(ticks <= 6);

  h.lane.hold_source(false, h.now);
  h.run_until(h.now + 2 * kSecond);
  CHECK_FALSE(h.lane.next_tick_us());  // released: stops once caught up
}

TEST_CASE("holding a lane with no viewers schedules nothing", "[lane]") {
  Harness h(settings_for());
  h.load = {800, 0};
  h.lane.hold_source(true, h.now);
  CHECK_FALSE(h.lane.next_tick_us());
}

TEST_CASE("random events keep every invariant (seeded)", "[lane]") {
  const unsigned seed = std::random_device{}();
  std::printf("lane random test seed %u\n", seed);
  CAPTURE(seed);
  std::mt19937 random(seed);
  for (int round = 0; round < 20; ++round) {
    Lane::Settings s = settings_for(1 << 16);
    s.max_write_bytes = 4096;
    Harness h(s, Framing{0, 188});
    h.load = {1 + random() % 1600, (random() % 100) / 50.0};
    std::vector<ViewerId> live;
    std::map<ViewerId, std::uint64_t> expected;  // where each viewer's next write must start
    for (int step = 0; step < 2000; ++step) {
      const unsigned what = random() % 10;
      if (what == 0 && live.size() < 40) {
        const std::uint64_t start =
            h.ring.head - std::min<std::uint64_t>(h.ring.head, random() % 30'000) / 188 * 188;
        live.push_back(h.join(std::max(start, h.ring.oldest) / 188 * 188));
      } else if (what == 1 && !live.empty()) {
        const ViewerId id = live[random() % live.size()];
        if (h.stuck.count(id))
          h.stuck.erase(id);
        else
          h.stuck.insert(id);
      } else if (what == 2 && !live.empty()) {
        const ViewerId id = live[random() % live.size()];
        if (h.in_flight.count(id)) h.complete(id);
      } else if (what < 6) {
        h.commit(random() % 5000);
      } else {
        h.run_until(h.now + random() % 50'000);
      }
      if (random() % 50 == 0) {
        LaneActions out;
        h.lane.evict_below(h.ring.head > 48'000 ? h.ring.head - 48'000 : 0, out);
        h.apply(out);
      }
      std::erase_if(live, [&](ViewerId id) { return h.closes.count(id) > 0; });
    }
    // Each viewer's writes are contiguous but for skips; a write that starts inside a packet
    // (after a quiet source's partial packet went out) continues the one before it, so no
    // packet is ever spliced.
    for (const auto& [id, list] : h.writes) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i].from % 188 != 0) {
          REQUIRE(i > 0);
          CHECK(list[i].from == list[i - 1].to);
        }
        if (i > 0 && h.skips[id] == 0 && h.closes[id] == 0) CHECK(list[i].from == list[i - 1].to);
      }
    }
  }
}

TEST_CASE("a viewer evicted after its write was decided is closed, and the write not carried out", "[lane]") {
  Harness h(settings_for(), Framing{0, 188});
  h.ring.head = 800'000;
  h.ring.oldest = 0;
  // Far behind and inside a packet: it is decided the rest of its packet first...
  const ViewerId id = h.lane.add(100'000 + 50);
  LaneActions out;
  h.lane.start(id, h.ring, out);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].kind == LaneAction::Kind::write);
  // ...and the writer needs that memory before the write is applied.
  h.lane.evict_below(700'000, out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].kind == LaneAction::Kind::close);
  CHECK(h.lane.closing(id));
  CHECK(h.lane.gate() == kNoGate);
  // A late report of that write changes nothing.
  LaneActions more;
  h.lane.wrote(id, out[0].to, h.ring, more);
  h.lane.write_done(id, h.ring, more);
  CHECK(more.empty());
  CHECK(h.lane.gate() == kNoGate);
}

// ICY metadata: the lane decides where each listener's blocks go; the socket layer gathers them.

namespace {
// Stream bytes a listener was sent between its blocks, in order, from its writes.
std::vector<std::uint64_t> bytes_between_blocks(const std::vector<Write>& writes) {
  std::vector<std::uint64_t> runs;
  std::uint64_t run = 0;
  for (const Write& w : writes) {
    if (w.block_after != 0) {
      REQUIRE(w.block_after > w.from);
      REQUIRE(w.block_after <= w.to);
      runs.push_back(run + (w.block_after - w.from));
      run = w.to - w.block_after;
    } else {
      run += w.to - w.from;
    }
  }
  return runs;
}
}  // namespace

TEST_CASE("an ICY listener gets a block after every metaint bytes it is sent, one per write at most",
          "[lane][icy]") {
  const std::uint32_t metaint = 1000;
  const auto seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 random(seed);
  Harness h(settings_for());
  const ViewerId icy = h.join(0, metaint);
  const ViewerId plain = h.join(0);
  std::uniform_int_distribution<std::uint64_t> size(1, 5000);
  for (int i = 0; i < 400; ++i) {
    h.commit(size(random));
    h.now += 10'000;
  }
  const auto runs = bytes_between_blocks(h.writes[icy]);
  REQUIRE(runs.size() >= h.ring.head / metaint - 1);
  for (const std::uint64_t run : runs) CHECK(run == metaint);
  for (const Write& w : h.writes[icy]) CHECK(w.to - w.from <= 2 * metaint - 1);
  for (const Write& w : h.writes[plain]) CHECK(w.block_after == 0);
}

TEST_CASE("a skip moves an ICY listener in the stream, not its block count", "[lane][icy]") {
  const std::uint32_t metaint = 4096;
  Lane::Settings s = settings_for(64 * 1024);
  Harness h(s, Framing{0, 188});
  const ViewerId icy = h.join(0, metaint);
  h.commit(188 * 30);
  h.stuck.insert(icy);
  h.commit(188 * 10);  // in flight, stuck
  h.commit(188 * 250);  // more than half the ring behind
  h.complete(icy);
  h.commit(188 * 10);
  h.commit(188 * 100);
  REQUIRE(h.skips[icy] >= 1);
  const auto runs = bytes_between_blocks(h.writes[icy]);
  REQUIRE(!runs.empty());
  for (const std::uint64_t run : runs) CHECK(run == metaint);
}

TEST_CASE("a lapped ICY write puts its block back: nothing of it was sent", "[lane][icy]") {
  const std::uint32_t metaint = 1000;
  Harness h(settings_for());
  const ViewerId icy = h.lane.add(0, metaint);
  h.ring.head = 1500;
  LaneActions out;
  h.lane.start(icy, h.ring, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].block_after == 1000);
  out.clear();
  h.ring.head = 3000;
  h.ring.oldest = 2000;  // the write's start was overwritten before it was read
  h.lane.lapped(icy, h.ring, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == LaneAction::Kind::skip);
  out.clear();
  h.ring.head = 4500;
  h.lane.commit(h.ring, h.load, h.now, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].from == 3000);
  CHECK(out[0].block_after == 4000);  // still 1000 bytes to the first block
}

TEST_CASE("socket bytes map back to stream positions around an inserted block", "[lane][icy]") {
  const GatheredWrite write{1000, 3000, 2000, 33};
  CHECK(write.socket_bytes() == 2033);
  CHECK(write.stream_position_after(0) == 1000);
  CHECK(write.stream_position_after(999) == 1999);
  CHECK(write.stream_position_after(1000) == 2000);
  CHECK(write.stream_position_after(1020) == 2000);  // the block taken in part
  CHECK(write.stream_position_after(1033) == 2000);
  CHECK(write.stream_position_after(1034) == 2001);
  CHECK(write.stream_position_after(2033) == 3000);
  const GatheredWrite plain{1000, 3000, 0, 0};
  CHECK(plain.stream_position_after(700) == 1700);
  const GatheredWrite at_end{1000, 3000, 3000, 1};
  CHECK(at_end.stream_position_after(2000) == 3000);
  CHECK(at_end.socket_bytes() == 2001);
}

TEST_CASE("a join's response head in front of its first write holds the stream position",
          "[lane]") {
  const GatheredWrite first{1000, 3000, 0, 0, 300};  // a 300-byte head, then the burst
  CHECK(first.socket_bytes() == 2300);
  CHECK(first.stream_position_after(0) == 1000);
  CHECK(first.stream_position_after(299) == 1000);
  CHECK(first.stream_position_after(300) == 1000);
  CHECK(first.stream_position_after(301) == 1001);
  CHECK(first.stream_position_after(2300) == 3000);
  const GatheredWrite icy{1000, 3000, 2000, 33, 300};  // and a metadata block
  CHECK(icy.socket_bytes() == 2333);
  CHECK(icy.stream_position_after(1300) == 2000);
  CHECK(icy.stream_position_after(1333) == 2000);
  CHECK(icy.stream_position_after(1334) == 2001);
  CHECK(icy.stream_position_after(2333) == 3000);
}

TEST_CASE("an ICY write whose stream bytes are out but not its block keeps its place in the gate",
          "[lane][icy]") {
  Harness h(settings_for());
  const ViewerId icy = h.lane.add(0, 1000);
  h.ring.head = 1000;
  LaneActions out;
  h.lane.start(icy, h.ring, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].block_after == 1000);
  out.clear();
  h.lane.progressed(icy, 1000);  // every stream byte taken, the block not yet
  CHECK(h.lane.in_flight(icy));
  CHECK(h.lane.gate() <= 1000);
  h.ring.head = 2000;
  h.lane.commit(h.ring, h.load, h.now, out);
  CHECK(out.empty());  // one write in flight at a time
  h.lane.write_done(icy, h.ring, out);  // the block is out: the missed turn is written at once
  REQUIRE(out.size() == 1);
  CHECK(out[0].from == 1000);
  CHECK(out[0].to == 2000);
  CHECK(out[0].block_after == 2000);
  CHECK(h.lane.gate() == 1000);
}

TEST_CASE("a skipped viewer of a video stream lands on the newest keyframe near the live edge",
          "[lane][video]") {
  Harness h(settings_for(), Framing{0, 188});
  const std::uint64_t head = 188 * 20'000;
  h.ring.head = head;
  h.ring.oldest = head - kRing;
  SECTION("a keyframe within a quarter ring of head") {
    h.ring.keyframe = head - 188 * 500;
    const ViewerId id = h.join(head - kRing - 1);  // lapped
    CHECK(h.skips[id] == 1);
    CHECK(h.lane.position(id) > h.ring.keyframe);  // the backlog from the keyframe went out
    REQUIRE_FALSE(h.writes[id].empty());
    CHECK(h.writes[id][0].from == h.ring.keyframe);
  }
  SECTION("a keyframe further back than a quarter ring is not worth it: the live edge") {
    h.ring.keyframe = head - kRing / 4 - 188;
    const ViewerId id = h.join(head - kRing - 1);
    CHECK(h.lane.position(id) == head);
    CHECK(h.writes[id].empty());
  }
  SECTION("a keyframe the lane cannot have read yet is ignored") {
    h.ring.keyframe = head + 188;
    const ViewerId id = h.join(head - kRing - 1);
    CHECK(h.lane.position(id) == head);
  }
  SECTION("a lapped write lands on the keyframe too") {
    h.ring.keyframe = head - 188 * 10;
    const ViewerId id = h.lane.add(head - 188 * 100);
    LaneActions out;
    h.lane.start(id, h.ring, out);
    REQUIRE(out.size() == 1);
    out.clear();
    h.lane.lapped(id, h.ring, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == LaneAction::Kind::skip);
    CHECK(out[0].to == head - 188 * 10);
  }
}

TEST_CASE("a bounded read (an HLS segment) gets its range at once, then finishes", "[lane][video]") {
  Harness h(settings_for(), Framing{0, 188});
  h.ring.head = 188 * 5'000;
  const ViewerId id = h.read_range(188 * 1'000, 188 * 3'000);
  REQUIRE(h.finishes[id] == 1);
  std::uint64_t sent = 0;
  for (const Write& w : h.writes[id]) {
    CHECK(w.to <= 188 * 3'000);
    sent += w.to - w.from;
  }
  CHECK(sent == 188 * 2'000);  // capped writes went on without waiting for the wheel
  CHECK(h.writes[id].size() == 2);  // 376,000 bytes in writes of at most 256 KiB
}

TEST_CASE("a bounded read is never skipped: overwritten, it is closed", "[lane][video]") {
  Harness h(settings_for(), Framing{0, 188});
  const std::uint64_t head = 188 * 20'000;
  h.ring.head = head;
  h.ring.oldest = head - kRing;
  SECTION("far behind but readable: it is served") {
    const ViewerId id = h.read_range(head - kRing + 188, head - kRing + 188 * 1'000);
    CHECK(h.skips[id] == 0);
    CHECK(h.finishes[id] == 1);
  }
  SECTION("already overwritten") {
    const ViewerId id = h.read_range(head - kRing - 188, head - kRing + 188 * 1'000);
    CHECK(h.skips[id] == 0);
    CHECK(h.closes[id] == 1);
  }
  SECTION("overwritten while its write was being decided") {
    JoinOptions segment;
    segment.end = head - 188 * 100;
    const ViewerId id = h.lane.add(head - 188 * 200, segment);
    LaneActions out;
    h.lane.start(id, h.ring, out);
    REQUIRE(out.size() == 1);
    out.clear();
    h.lane.lapped(id, h.ring, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == LaneAction::Kind::close);
    CHECK(out[0].reason == CloseReason::overwritten);
  }
}

TEST_CASE("a timeshifted viewer may stay further behind than a live one", "[lane][video]") {
  Harness h(settings_for(), Framing{0, 188});
  const std::uint64_t head = 188 * 20'000;
  h.ring.head = head;
  h.ring.oldest = head - kRing;
  const std::uint64_t behind = 188 * 17'100;  // 545,200 bytes: over the live lag limit
  const ViewerId live = h.join(behind);
  JoinOptions rewind;
  rewind.max_lag_bytes = kRing / 2 + kRing / 8;
  const ViewerId shifted = h.join(behind, rewind);
  CHECK(h.skips[live] == 1);
  CHECK(h.skips[shifted] == 0);
  CHECK(h.writes[shifted].front().from == behind);
}
