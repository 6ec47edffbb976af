// A viewer that stops reading never holds the source or the other viewers back, and what it
// gets afterwards is still a valid stream: whole packets, only forward.
#include <catch2/catch.hpp>

#include <memory>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr int kFastViewers = 3;

struct Schedule {
  std::uint64_t total = 16u << 20;
  double rate = 4.0 * (1 << 20);  // 4 s of stream: 64 laps of a 256 KiB ring
};

std::uint64_t slow_events(std::uint16_t port) {
  const auto totals = fetch_stats(port).at("totals");
  return totals.at("skips").get<std::uint64_t>() + totals.at("slow_disconnects").get<std::uint64_t>();
}

struct SlowViewerRun {
  std::vector<std::unique_ptr<Viewer>> fast;
  std::unique_ptr<Viewer> stalled;
  std::uint64_t stalled_at_resume = 0;
  std::vector<std::uint64_t> fast_at_source_end;
  Schedule schedule;
};

Viewer::Options laggard_options() {
  Viewer::Options options;
  options.deadline = 30s;
  options.contiguous = false;  // skips are allowed; corrupt or backward packets are not
  options.receive_buffer = 4096;  // keep what the kernel buffers for it small
  options.read_bytes = 4096;
  return options;
}

// Fast viewers and one laggard join; the source sends 16 MiB at 4 MiB/s. A paused laggard
// resumes once the relay reports a slow viewer.
SlowViewerRun run_with_laggard(RelayProcess& relay, const Viewer::Options& laggard, Schedule schedule = {}) {
  SlowViewerRun run;
  run.schedule = schedule;
  const std::uint64_t kTotal = schedule.total;
  SourceConnection source = connect_source(relay.port());
  for (int i = 0; i < kFastViewers; ++i) run.fast.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  run.stalled = std::make_unique<Viewer>(relay.port(), "/live.ts", laggard);

  PacedSource sender(std::move(source.socket), 0, kTotal, schedule.rate, 16 * 1024);
  const bool noticed = wait_until([&] { return slow_events(relay.port()) > 0 || sender.done(); }, 60s);
  REQUIRE(noticed);
  REQUIRE(slow_events(relay.port()) > 0);  // before the source ended
  run.stalled_at_resume = run.stalled->received();
  run.stalled->resume();

  sender.join();
  for (auto& viewer : run.fast) run.fast_at_source_end.push_back(viewer->received());
  REQUIRE(sender.error().empty());
  REQUIRE(sender.sent() == kTotal);
  // The writer never waits: a source held back by a stalled viewer would fall far behind. The
  // bound is generous (the schedule plus 50% plus 2 s); this is not a timing test.
  CHECK(sender.took() <= sender.planned() * 3 / 2 + 2s);

  for (auto& viewer : run.fast) viewer->join();
  run.stalled->join();
  return run;
}

void check_fast_viewers(const SlowViewerRun& run) {
  const std::uint64_t kTotal = run.schedule.total;
  for (int i = 0; i < kFastViewers; ++i) {
    const Viewer& viewer = *run.fast[i];
    INFO("fast viewer " << i);
    // Full rate end to end: when the source finished, they had at least 90% of its bytes ...
    CHECK(run.fast_at_source_end[i] >= kTotal * 9 / 10);
    // ... and in the end all of it, with no gap.
    CHECK(viewer.error() == "");
    CHECK(viewer.eof());
    CHECK(viewer.checker().error() == "");
    CHECK(viewer.checker().first_sequence() == 0);
    CHECK(viewer.received() == kTotal);
  }
}

void check_stalled_viewer_stream(const SlowViewerRun& run) {
  const Viewer& stalled = *run.stalled;
  const std::uint64_t kTotal = run.schedule.total;
  INFO("stalled viewer: " << stalled.received() << " bytes, " << stalled.checker().packets() << " packets, "
                          << stalled.checker().jumps() << " jumps, last sequence "
                          << stalled.checker().last_sequence());
  CHECK(stalled.error() == "");
  CHECK(stalled.eof());
  CHECK(stalled.checker().error() == "");
  CHECK(stalled.received() < kTotal);  // it did lose something
}

Viewer::Options stalled_options() {
  Viewer::Options options = laggard_options();
  options.start_paused = true;
  return options;
}

}  // namespace

TEST_CASE("a stalled viewer is skipped or dropped without slowing the source or other viewers", "[slow]") {
  RelayProcess relay({"--ring-size", "256K", "--grace", "1", "--slow-viewer", "skip"});
  const SlowViewerRun run = run_with_laggard(relay, stalled_options());
  check_fast_viewers(run);
  check_stalled_viewer_stream(run);
  const auto totals = fetch_stats(relay.port()).at("totals");
  INFO("skips " << totals.at("skips") << ", slow_disconnects " << totals.at("slow_disconnects"));
  CHECK(totals.at("skips").get<std::uint64_t>() + totals.at("slow_disconnects").get<std::uint64_t>() > 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("with --slow-viewer disconnect a stalled viewer gets EOF after valid data", "[slow]") {
  RelayProcess relay({"--ring-size", "256K", "--grace", "1", "--slow-viewer", "disconnect"});
  const SlowViewerRun run = run_with_laggard(relay, stalled_options());
  check_fast_viewers(run);
  check_stalled_viewer_stream(run);
  // Dropped, not skipped: it has nothing after its gap.
  CHECK(run.stalled->checker().jumps() == 0);
  const auto totals = fetch_stats(relay.port()).at("totals");
  CHECK(totals.at("slow_disconnects") >= 1);
  CHECK(totals.at("skips") == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a viewer reading slower than the source is skipped forward to whole, valid packets", "[slow]") {
  RelayProcess relay({"--ring-size", "4M", "--grace", "1", "--slow-viewer", "skip"});
  const Schedule schedule{48u << 20, 12.0 * (1 << 20)};
  Viewer::Options slow = laggard_options();
  slow.bytes_per_second = schedule.rate / 2;
  slow.deadline = 20s;
  const SlowViewerRun run = run_with_laggard(relay, slow, schedule);
  check_fast_viewers(run);
  check_stalled_viewer_stream(run);
  const auto totals = fetch_stats(relay.port()).at("totals");
  INFO("skips " << totals.at("skips") << ", slow_disconnects " << totals.at("slow_disconnects"));
  CHECK(totals.at("skips") > 0);
  CHECK(run.stalled->checker().jumps() > 0);
  REQUIRE(relay.stop() == 0);
}
