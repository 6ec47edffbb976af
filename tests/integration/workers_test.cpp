// Several worker loops: viewers of several mounts spread over every worker, each reading the
// one shared ring of its mount; stalled viewers on every worker; a source that reconnects on
// another loop; shutdown with data in flight.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr int kMounts = 3;
constexpr int kFastPerMount = 6;
constexpr int kStalledPerMount = 2;

std::string mount_name(int i) { return "/m" + std::to_string(i) + ".ts"; }

Viewer::Options stalled_options() {
  Viewer::Options options;
  options.contiguous = false;  // skips allowed; corrupt or backward packets are not
  options.receive_buffer = 4096;
  options.read_bytes = 4096;
  options.start_paused = true;
  options.deadline = 60s;
  return options;
}

}  // namespace

TEST_CASE("viewers of several mounts spread over every worker get every byte while stalled viewers on each worker are skipped or dropped",
          "[workers]") {
  const std::string workers = GENERATE("2", "4");
  CAPTURE(workers);
  // A 1 MiB ring: a fast viewer may lag half of it (125 ms here) before it counts as slow, which
  // an oversubscribed 2-core machine running 4 loops and 30 client threads needs.
  RelayProcess relay({"--workers", workers, "--ring-size", "1M"});
  constexpr std::uint64_t kTotal = 12u << 20;  // per mount: 12 laps, more than kernel buffers hold
  constexpr double kRate = 4.0 * (1 << 20);

  std::vector<SourceConnection> sources;
  for (int m = 0; m < kMounts; ++m) {
    SourceOptions options;
    options.mount = mount_name(m);
    sources.push_back(connect_source(relay.port(), options));
  }
  std::vector<std::unique_ptr<Viewer>> fast;
  std::vector<std::unique_ptr<Viewer>> stalled;
  for (int m = 0; m < kMounts; ++m) {
    for (int i = 0; i < kFastPerMount; ++i) fast.push_back(std::make_unique<Viewer>(relay.port(), mount_name(m)));
    for (int i = 0; i < kStalledPerMount; ++i) {
      stalled.push_back(std::make_unique<Viewer>(relay.port(), mount_name(m), stalled_options()));
    }
  }
  const std::size_t expected_viewers = fast.size() + stalled.size();
  REQUIRE(wait_until([&] { return fetch_stats(relay.port()).at("totals").at("viewers") == expected_viewers; }, 10s));
  // The acceptor deals connections in turn: every worker holds viewers (and stalled ones).
  const auto stats = fetch_stats(relay.port());
  REQUIRE(stats.at("workers").size() == std::stoul(workers));
  for (const auto& worker : stats.at("workers")) CHECK(worker.at("viewers").get<int>() > 0);

  std::vector<std::unique_ptr<PacedSource>> senders;
  for (int m = 0; m < kMounts; ++m) {
    senders.push_back(std::make_unique<PacedSource>(std::move(sources[m].socket), 0, kTotal, kRate));
  }
  for (auto& sender : senders) {
    sender->join();
    REQUIRE(sender->error().empty());
    REQUIRE(sender->sent() == kTotal);
    // The writers never wait for a stalled viewer (a generous bound: not a timing test).
    CHECK(sender->took() <= sender->planned() * 3 / 2 + 2s);
  }
  for (auto& viewer : stalled) viewer->resume();

  for (std::size_t i = 0; i < fast.size(); ++i) {
    INFO("fast viewer " << i << " of " << mount_name(static_cast<int>(i) / kFastPerMount));
    CHECK(wait_until([&] { return fast[i]->received() == kTotal; }, 20s));
    fast[i]->hang_up();
    CHECK(fast[i]->error() == "");
    CHECK(fast[i]->checker().ok());
    CHECK(fast[i]->checker().error() == "");
    CHECK(fast[i]->checker().jumps() == 0);
  }
  const auto totals = fetch_stats(relay.port()).at("totals");
  CHECK(totals.at("bytes_in") == kMounts * kTotal);
  CHECK(totals.at("skips").get<std::uint64_t>() + totals.at("slow_disconnects").get<std::uint64_t>() > 0);

  REQUIRE(relay.stop() == 0);
  for (std::size_t i = 0; i < stalled.size(); ++i) {
    INFO("stalled viewer " << i);
    stalled[i]->join();
    CHECK(stalled[i]->checker().error() == "");  // never an overwritten or spliced packet
    CHECK(stalled[i]->checker().ok());
  }
}

TEST_CASE("a source that reconnects on another worker continues the stream for viewers on every worker",
          "[workers][grace]") {
  const std::string workers = GENERATE("2", "4");
  CAPTURE(workers);
  RelayProcess relay({"--workers", workers, "--grace", "10"});
  constexpr std::uint64_t kPart = 4000 * kPacketBytes;
  constexpr int kViewers = 8;
  constexpr int kReconnects = 3;

  SourceConnection first = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("viewers") == kViewers; }, 10s));

  std::uint64_t offset = 0;
  Socket socket = std::move(first.socket);
  for (int round = 0; round <= kReconnects; ++round) {
    INFO("round " << round);
    PacedSource sender(std::move(socket), offset, kPart, 8.0 * (1 << 20));
    sender.join();
    REQUIRE(sender.error().empty());
    offset += kPart;
    for (auto& viewer : viewers) REQUIRE(wait_until([&] { return viewer->received() == offset; }, 10s));
    // Reconnects land on the next worker in turn, so the ring's writer moves between loops.
    if (round < kReconnects) {
      REQUIRE(wait_until([&] { return !mount_stats(relay.port(), "/live.ts").at("source_connected").get<bool>(); }, 10s));
      socket = connect_source(relay.port()).socket;
    }
  }
  CHECK(mount_stats(relay.port(), "/live.ts").at("source_connects") == kReconnects + 1);
  REQUIRE(relay.stop() == 0);
  for (int i = 0; i < kViewers; ++i) {
    INFO("viewer " << i);
    viewers[i]->join();
    CHECK(viewers[i]->error() == "");
    CHECK(viewers[i]->checker().ok());
    CHECK(viewers[i]->checker().jumps() == 0);
    CHECK(viewers[i]->checker().bytes() == offset);
  }
}

TEST_CASE("shutdown under load on several workers exits 0 and every viewer sees EOF after valid data",
          "[workers]") {
  const std::string workers = GENERATE("2", "4");
  CAPTURE(workers);
  RelayProcess relay({"--workers", workers});
  constexpr std::uint64_t kTotal = 64u << 20;  // far more than the test lets it send
  std::vector<std::unique_ptr<PacedSource>> senders;
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::vector<SourceConnection> sources;
  for (int m = 0; m < 2; ++m) {
    SourceOptions options;
    options.mount = mount_name(m);
    sources.push_back(connect_source(relay.port(), options));
    Viewer::Options viewer_options;
    viewer_options.contiguous = false;  // a source at full speed may outrun a viewer: skips are fine
    for (int i = 0; i < 10; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), mount_name(m), viewer_options));
  }
  for (auto& source : sources) {
    senders.push_back(std::make_unique<PacedSource>(std::move(source.socket), 0, kTotal, 0));
  }
  REQUIRE(wait_until([&] {
    for (auto& viewer : viewers) if (viewer->received() < (1u << 20)) return false;
    return true;
  }, 20s));

  REQUIRE(relay.stop() == 0);
  for (auto& sender : senders) sender->join();  // the relay closed them: an error is expected
  for (std::size_t i = 0; i < viewers.size(); ++i) {
    INFO("viewer " << i);
    viewers[i]->join();
    CHECK(viewers[i]->eof());
    CHECK(viewers[i]->checker().ok());
    CHECK(viewers[i]->checker().error() == "");
  }
}
