// What an operator or a player sees besides the stream: HEAD, the viewer response head, and
// the shape of /stats.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "harness.h"

using namespace ringcast::integration;

TEST_CASE("HEAD of a live mount answers 200 with its content type and no body", "[stats]") {
  RelayProcess relay;
  SourceConnection source = connect_source(relay.port());
  send_all(source.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  const Response response = http_exchange(relay.port(), "HEAD /live.ts HTTP/1.0\r\n\r\n");
  CHECK(response.head.status == 200);
  CHECK(response.head.header("Content-Type") == "video/mp2t");
  CHECK(response.body.empty());
  // HEAD is not a viewer.
  CHECK(mount_stats(relay.port(), "/live.ts").at("viewers") == 0);
  CHECK(mount_stats(relay.port(), "/live.ts").at("joins") == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("viewers get the source's content type and its ice-* headers as icy-*", "[stats]") {
  RelayProcess relay;
  SourceOptions options;
  options.mount = "/radio.mp3";
  options.content_type = "audio/mpeg";
  options.extra_headers = {"ice-name: Test Radio", "ice-genre: Jazz", "ice-public: 0", "ice-bitrate: 128"};
  SourceConnection source = connect_source(relay.port(), options);
  Viewer viewer(relay.port(), "/radio.mp3", Viewer::Options{.contiguous = false});
  const ResponseHead& head = viewer.response();
  CHECK(head.text.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(head.header("Content-Type") == "audio/mpeg");
  CHECK(head.header("icy-name") == "Test Radio");
  CHECK(head.header("icy-genre") == "Jazz");
  CHECK(head.header("icy-pub") == "0");
  CHECK(head.header("icy-br") == "128");
  viewer.hang_up();
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("/stats is JSON with per-mount counters, totals and refusals", "[stats]") {
  RelayProcess relay;
  constexpr std::uint64_t kTotal = 500 * kPacketBytes;
  SourceConnection source = connect_source(relay.port());
  Viewer first(relay.port(), "/live.ts");
  Viewer second(relay.port(), "/live.ts");
  send_all(source.socket, pattern(0, kTotal), Clock::now() + 10s);
  CHECK(wait_until([&] { return first.received() == kTotal && second.received() == kTotal; }, 10s));
  CHECK(http_exchange(relay.port(), "GET /missing HTTP/1.0\r\n\r\n").head.status == 404);

  const Response response = http_exchange(relay.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(response.head.status == 200);
  CHECK(response.head.header("Content-Type").value_or("").find("application/json") == 0);
  CHECK(response.head.header("Content-Length") == std::to_string(response.body.size()));
  const auto stats = nlohmann::json::parse(response.body);

  REQUIRE(stats.is_object());
  CHECK(stats.at("version").is_string());
  CHECK(stats.at("uptime_seconds").is_number());
  CHECK(stats.at("connections").at("open").is_number_unsigned());
  CHECK(stats.at("connections").at("accepted").get<std::uint64_t>() >= 5);

  const auto& refused = stats.at("refused");
  for (const char* field : {"bad_request", "auth", "mount_in_use", "not_found", "method", "head_timeout", "head_too_large"}) {
    INFO(field);
    CHECK(refused.at(field).is_number_unsigned());
  }
  CHECK(refused.at("not_found") == 1);

  REQUIRE(stats.at("mounts").size() == 1);
  const auto& mount = stats.at("mounts").at("/live.ts");
  CHECK(mount.at("source_connected") == true);
  CHECK(mount.at("content_type") == "video/mp2t");
  CHECK(mount.at("bytes_in") == kTotal);
  CHECK(mount.at("bytes_out") == 2 * kTotal);
  CHECK(mount.at("viewers") == 2);
  CHECK(mount.at("peak_viewers") == 2);
  CHECK(mount.at("joins") == 2);
  CHECK(mount.at("skips") == 0);
  CHECK(mount.at("slow_disconnects") == 0);
  CHECK(mount.at("source_connects") == 1);
  CHECK(mount.at("ring_bytes").get<std::uint64_t>() >= kTotal);
  CHECK(mount.at("ring_fill_bytes") == kTotal);
  CHECK(mount.at("head_position") == kTotal);

  const auto& totals = stats.at("totals");
  CHECK(totals.at("mounts") == 1);
  CHECK(totals.at("viewers") == 2);
  CHECK(totals.at("bytes_in") == kTotal);
  CHECK(totals.at("bytes_out") == 2 * kTotal);
  CHECK(totals.at("skips") == 0);
  CHECK(totals.at("slow_disconnects") == 0);
  CHECK(totals.at("streams_ended") == 0);

  first.hang_up();
  second.hang_up();
  CHECK(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("viewers") == 0; }, 10s));
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("each worker reports its busy share and a write period scaled by its audience", "[stats]") {
  RelayProcess relay({"--workers", "1", "--latency-budget", "100", "--full-delay-audience", "10"});
  SourceConnection source = connect_source(relay.port());
  // 1 Mbit/s: 16 KiB would take 131 ms, so the 100 ms budget sets the period at full audience.
  PacedSource sender(std::move(source.socket), 0, 125'000 * 30, 125'000, 4096);
  const auto worker = [&] { return fetch_stats(relay.port()).at("workers").at(0); };
  // The gauges are refreshed by the worker's 250 ms sweep. A loop more than half busy would
  // stretch the delay (at most 3x): an idle relay here should not be, but a sanitizer build on
  // a loaded machine may be, so the upper bounds allow for it.
  const auto delay_within = [&](std::uint64_t low, std::uint64_t high) {
    return wait_until([&] {
      const auto w = worker();
      const auto delay = w.at("write_delay_ms").get<std::uint64_t>();
      return delay >= low && delay <= high;
    }, 5s);
  };
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < 5; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  CHECK(delay_within(40, 150));  // half the full audience: half the period
  for (int i = 0; i < 10; ++i) viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts"));
  CHECK(delay_within(90, 300));  // past the full audience: the whole budget
  const auto w = worker();
  CHECK(w.at("busy").get<double>() >= 0.0);
  CHECK(w.at("busy").get<double>() <= 1.0);
  CHECK(w.at("viewers") == 15);
  for (auto& viewer : viewers) viewer->hang_up();
  CHECK(delay_within(0, 0));  // no audience: every commit goes out at once
  REQUIRE(relay.stop() == 0);
}
