// Bytes never wait for bytes that may not come: a large audience gets a source's small writes,
// a viewer's backlog keeps flowing when the source goes quiet, and a stream that ends delivers
// what its viewers have pending, then EOF, and counts it.
#include <catch2/catch.hpp>

#include <memory>

#include "harness.h"

using namespace ringcast::integration;

namespace {

// Past a few viewers, the relay coalesces writes (its write period scales with the audience).
constexpr int kLargeAudience = 30;
constexpr std::size_t kSmallWrite = 10 * kPacketBytes;  // far below --coalesce-bytes (16 KiB)

std::vector<std::unique_ptr<Viewer>> join_viewers(std::uint16_t port, int count, Viewer::Options options = {}) {
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < count; ++i) viewers.push_back(std::make_unique<Viewer>(port, "/live.ts", options));
  return viewers;
}

bool all_received(const std::vector<std::unique_ptr<Viewer>>& viewers, std::uint64_t bytes) {
  for (const auto& viewer : viewers) {
    if (viewer->received() != bytes) return false;
  }
  return true;
}

Viewer::Options short_lived() {
  Viewer::Options options;
  options.deadline = 10s;  // these streams are tiny: 10 s is only a bound on the test
  return options;
}

}  // namespace

TEST_CASE("a large audience receives a source's small writes without waiting for more", "[stream-end]") {
  RelayProcess relay;
  SourceConnection source = connect_source(relay.port());
  auto viewers = join_viewers(relay.port(), kLargeAudience, short_lived());
  send_all(source.socket, pattern(0, kSmallWrite), Clock::now() + 10s);
  // The source stays connected and says nothing more. The relay promises at most
  // --latency-budget of coalescing (scaled down for 30 viewers: well under a second).
  CHECK(wait_until([&] { return all_received(viewers, kSmallWrite); }, 10s));
  for (auto& viewer : viewers) viewer->hang_up();
  for (auto& viewer : viewers) CHECK(viewer->checker().error() == "");
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a large audience gets the last bytes and then EOF when its stream ends", "[stream-end]") {
  RelayProcess relay({"--grace", "1"});
  SourceConnection source = connect_source(relay.port());
  auto viewers = join_viewers(relay.port(), kLargeAudience, short_lived());
  send_all(source.socket, pattern(0, kSmallWrite), Clock::now() + 10s);
  source.socket.close();
  for (int i = 0; i < kLargeAudience; ++i) {
    INFO("viewer " << i);
    viewers[i]->join();
    CHECK(viewers[i]->received() == kSmallWrite);
    CHECK(viewers[i]->error() == "");
    CHECK(viewers[i]->eof());
    CHECK(viewers[i]->checker().error() == "");
  }
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("/stats totals count bytes sent to viewers after their stream ended", "[stream-end]") {
  RelayProcess relay({"--grace", "1"});
  SourceConnection source = connect_source(relay.port());
  auto viewers = join_viewers(relay.port(), kLargeAudience, short_lived());
  send_all(source.socket, pattern(0, kSmallWrite), Clock::now() + 10s);
  source.socket.close();
  REQUIRE(wait_until([&] { return all_received(viewers, kSmallWrite); }, 10s));
  for (auto& viewer : viewers) viewer->hang_up();
  const auto totals = fetch_stats(relay.port()).at("totals");
  CHECK(totals.at("bytes_in") == kSmallWrite);
  CHECK(totals.at("bytes_out") == kSmallWrite * kLargeAudience);
  REQUIRE(relay.stop() == 0);
}

namespace {

// One viewer pauses, with a tiny receive buffer, while the source sends 6 MiB at once: more
// than the kernel buffers hold, so most of it is still to be written to that viewer when the
// source goes quiet. The ring (16 MiB) holds it all: no skip, no eviction is allowed. Small
// writes (16 KiB) make it likely that the kernel takes one whole, at once.
struct PausedThroughBurst {
  static constexpr std::uint64_t kTotal = 6u << 20;
  RelayProcess relay;
  std::unique_ptr<Viewer> viewer;

  explicit PausedThroughBurst(bool source_leaves)
      : relay({"--ring-size", "16M", "--grace", "1", "--source-timeout", "60", "--max-write-bytes", "16K"}) {
    SourceConnection source = connect_source(relay.port());
    Viewer::Options options = short_lived();
    options.receive_buffer = 4096;
    options.start_paused = true;
    viewer = std::make_unique<Viewer>(relay.port(), "/live.ts", options);
    send_all(source.socket, pattern(0, kTotal), Clock::now() + 10s);
    REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("bytes_in") == kTotal; }, 10s));
    if (source_leaves) {
      source.socket.close();
      REQUIRE(wait_until([&] { return fetch_stats(relay.port()).at("totals").at("streams_ended") == 1; }, 10s));
    } else {
      source_ = std::move(source.socket);  // connected and quiet
    }
    REQUIRE(viewer->received() < kTotal);
    viewer->resume();
  }

 private:
  Socket source_;
};

}  // namespace

TEST_CASE("a viewer that paused through a burst gets its whole backlog while the source is quiet", "[stream-end]") {
  PausedThroughBurst run(false);
  CHECK(wait_until([&] { return run.viewer->received() == PausedThroughBurst::kTotal; }, 10s));
  run.viewer->hang_up();
  CHECK(run.viewer->received() == PausedThroughBurst::kTotal);
  CHECK(run.viewer->checker().error() == "");
  CHECK(run.viewer->checker().jumps() == 0);
  REQUIRE(run.relay.stop() == 0);
}

TEST_CASE("a viewer still behind when its stream ends gets every byte and then EOF", "[stream-end]") {
  PausedThroughBurst run(true);
  run.viewer->join();  // bounded by the viewer's deadline
  CHECK(run.viewer->received() == PausedThroughBurst::kTotal);
  CHECK(run.viewer->error() == "");
  CHECK(run.viewer->eof());
  CHECK(run.viewer->checker().error() == "");
  REQUIRE(run.relay.stop() == 0);
}
