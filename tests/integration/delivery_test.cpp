// Byte-exact fan-out: every viewer that was there from the start gets the source's bytes, all
// of them, in order, and nothing else.
#include <catch2/catch.hpp>

#include <memory>

#include "harness.h"

using namespace ringcast::integration;

TEST_CASE("fifty viewers that joined before the source sent receive its 8 MiB byte-exact", "[delivery]") {
  // The ring is larger than the whole stream, so no viewer may ever be skipped or dropped here:
  // any gap or difference is a delivery bug, not a slow-viewer decision.
  RelayProcess relay({"--ring-size", "16M", "--grace", "1"});
  constexpr std::uint64_t kTotal = 8u << 20;
  constexpr int kViewers = 50;

  SourceConnection source = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  REQUIRE(mount_stats(relay.port(), "/live.ts").at("viewers") == kViewers);

  PacedSource sender(std::move(source.socket), 0, kTotal, 0 /* as fast as the relay takes it */, 64 * 1024);
  sender.join();
  REQUIRE(sender.error().empty());
  REQUIRE(sender.sent() == kTotal);

  // (How a stream ends is the business of the grace tests: here only the bytes count.)
  for (auto& viewer : viewers) CHECK(wait_until([&] { return viewer->received() >= kTotal; }, 30s));
  for (auto& viewer : viewers) viewer->hang_up();
  for (int i = 0; i < kViewers; ++i) {
    const Viewer& viewer = *viewers[i];
    INFO("viewer " << i);
    CHECK(viewer.error() == "");
    CHECK(viewer.checker().error() == "");
    CHECK(viewer.received() == kTotal);
    CHECK(viewer.checker().first_sequence() == 0);
    CHECK(viewer.response().header("Content-Type") == "video/mp2t");
  }

  const auto stats = fetch_stats(relay.port());
  CHECK(stats.at("totals").at("bytes_in") == kTotal);
  CHECK(stats.at("totals").at("skips") == 0);
  CHECK(stats.at("totals").at("slow_disconnects") == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("viewers of a paced source on the default ring receive every byte", "[delivery]") {
  RelayProcess relay({"--grace", "1"});
  constexpr std::uint64_t kTotal = 4u << 20;
  constexpr int kViewers = 10;

  SourceConnection source = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));

  PacedSource sender(std::move(source.socket), 0, kTotal, 2.0 * (1 << 20), 4096);
  // While the source is live, /stats counts what it received so far.
  REQUIRE(wait_until([&] { return sender.done(); }, 30s));
  REQUIRE(sender.error().empty());
  CHECK(wait_until([&] {
    const auto mount = mount_stats(relay.port(), "/live.ts");
    return mount.is_object() && mount.at("bytes_in") == kTotal;
  }, 5s));

  for (auto& viewer : viewers) viewer->join();
  INFO("relay log:\n" << relay.log());
  for (int i = 0; i < kViewers; ++i) {
    INFO("viewer " << i);
    CHECK(viewers[i]->error() == "");
    CHECK(viewers[i]->eof());
    CHECK(viewers[i]->checker().error() == "");
    CHECK(viewers[i]->received() == kTotal);
  }
  REQUIRE(relay.stop() == 0);
}
