// A broadcaster that drops and comes back within --grace continues the same stream for the
// viewers; one that stays away past it ends the stream with a clean EOF.
#include <catch2/catch.hpp>

#include <memory>

#include "harness.h"

using namespace ringcast::integration;

namespace {

bool source_connected(std::uint16_t port) {
  const auto mount = mount_stats(port, "/live.ts");
  return mount.is_object() && mount.at("source_connected").get<bool>();
}

}  // namespace

TEST_CASE("viewers stay through a source reconnect within --grace and receive the continuation", "[grace]") {
  RelayProcess relay({"--grace", "5"});
  constexpr std::uint64_t kFirst = 5000 * kPacketBytes;  // an encoder's whole packets
  constexpr std::uint64_t kSecond = 6000 * kPacketBytes;
  constexpr int kViewers = 3;

  SourceConnection first = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  {
    PacedSource sender(std::move(first.socket), 0, kFirst, 2.0 * (1 << 20));
    sender.join();
    REQUIRE(sender.error().empty());
  }
  REQUIRE(wait_until([&] { return !source_connected(relay.port()); }, 10s));
  for (auto& viewer : viewers) CHECK(wait_until([&] { return viewer->received() == kFirst; }, 10s));

  // Back within grace: the same mount, the stream carries on where it stopped.
  SourceConnection second = connect_source(relay.port());
  CHECK(source_connected(relay.port()));
  {
    PacedSource sender(std::move(second.socket), kFirst, kSecond, 2.0 * (1 << 20));
    sender.join();
    REQUIRE(sender.error().empty());
  }
  for (auto& viewer : viewers) CHECK(wait_until([&] { return viewer->received() == kFirst + kSecond; }, 10s));
  for (int i = 0; i < kViewers; ++i) {
    INFO("viewer " << i);
    CHECK_FALSE(viewers[i]->eof());  // nobody was dropped in the gap
  }
  const auto mount = mount_stats(relay.port(), "/live.ts");
  CHECK(mount.at("source_connects") == 2);
  CHECK(mount.at("viewers") == kViewers);
  CHECK(mount.at("bytes_in") == kFirst + kSecond);

  // Shutting down with viewers attached is clean: exit 0, and they see EOF.
  REQUIRE(relay.stop() == 0);
  for (int i = 0; i < kViewers; ++i) {
    INFO("viewer " << i);
    viewers[i]->join();
    CHECK(viewers[i]->error() == "");
    CHECK(viewers[i]->eof());
    CHECK(viewers[i]->checker().error() == "");
    CHECK(viewers[i]->checker().first_sequence() == 0);
    CHECK(viewers[i]->checker().last_sequence() == (kFirst + kSecond) / kPacketBytes - 1);
    CHECK(viewers[i]->received() == kFirst + kSecond);
  }
}

TEST_CASE("viewers get EOF after all data when the source stays away past --grace", "[grace]") {
  RelayProcess relay({"--grace", "1"});
  constexpr std::uint64_t kTotal = 3000 * kPacketBytes;
  constexpr int kViewers = 3;

  SourceConnection source = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  Viewer::Options options;
  options.deadline = 20s;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts", options));
  {
    PacedSource sender(std::move(source.socket), 0, kTotal, 0);
    sender.join();
    REQUIRE(sender.error().empty());
  }
  for (int i = 0; i < kViewers; ++i) {
    INFO("viewer " << i);
    viewers[i]->join();
    CHECK(viewers[i]->error() == "");
    CHECK(viewers[i]->eof());
    CHECK(viewers[i]->checker().error() == "");
    CHECK(viewers[i]->received() == kTotal);
  }
  // The mount is gone; its counters live on in the totals.
  const auto stats = fetch_stats(relay.port());
  CHECK(stats.at("mounts").empty());
  CHECK(stats.at("totals").at("streams_ended") == 1);
  CHECK(stats.at("totals").at("bytes_in") == kTotal);
  CHECK(http_exchange(relay.port(), "GET /live.ts HTTP/1.0\r\n\r\n").head.status == 404);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a source that returns after --grace starts a new stream for new viewers", "[grace]") {
  RelayProcess relay({"--grace", "1"});
  SourceConnection first = connect_source(relay.port());
  send_all(first.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  first.socket.close();
  REQUIRE(wait_until([&] { return fetch_stats(relay.port()).at("totals").at("streams_ended") == 1; }, 10s));

  SourceConnection second = connect_source(relay.port());
  Viewer viewer(relay.port(), "/live.ts");
  send_all(second.socket, pattern(0, 50 * kPacketBytes), Clock::now() + 10s);
  CHECK(wait_until([&] { return viewer.received() == 50 * kPacketBytes; }, 10s));
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  CHECK(viewer.checker().first_sequence() == 0);  // nothing of the ended stream
  CHECK(mount_stats(relay.port(), "/live.ts").at("bytes_in") == 50 * kPacketBytes);
  REQUIRE(relay.stop() == 0);
}
