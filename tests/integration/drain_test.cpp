// /health and graceful drain (issue 26), over the real binary: what a load balancer sees while
// the relay serves, waits for its mounts and drains on SIGTERM; present listeners keep
// listening through the drain, new ones and new sources get 503, and the relay exits when the
// last listener leaves or the drain period ends.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "harness.h"

using namespace ringcast::integration;

namespace {

Response health(std::uint16_t port) { return http_exchange(port, "GET /health HTTP/1.0\r\n\r\n"); }

Viewer::Options listener_options() {
  Viewer::Options options;
  options.contiguous = false;
  return options;
}

}  // namespace

TEST_CASE("/health is 200 while the relay serves and 503 while a ready mount has no source", "[drain]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-health-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "ringcast.toml";
  std::ofstream(config) << "ready_mounts = [\"/radio.mp3\"]\n";
  RelayProcess relay({"--config", config.string()});

  const Response waiting = health(relay.port());
  CHECK(waiting.head.status == 503);
  CHECK(waiting.body == "not ready: no source on /radio.mp3\n");
  SourceOptions radio;
  radio.mount = "/radio.mp3";
  radio.content_type = "audio/mpeg";
  SourceConnection source = connect_source(relay.port(), radio);
  const Response ready = health(relay.port());
  CHECK(ready.head.status == 200);
  CHECK(ready.body == "ok\n");
  CHECK(ready.head.header("Cache-Control") == "no-cache");
  // HEAD is what some balancers send; a source may not take the path.
  CHECK(http_exchange(relay.port(), "HEAD /health HTTP/1.0\r\n\r\n").head.status == 200);
  SourceOptions squatter;
  squatter.mount = "/health";
  CHECK(http_exchange(relay.port(), source_request_head(squatter)).head.status == 403);
  // Not a listener, never counted as one.
  CHECK(mount_stats(relay.port(), "/radio.mp3").at("joins") == 0);

  source.socket.close();
  REQUIRE(wait_until([&] { return health(relay.port()).head.status == 503; }, 10s));
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("on SIGTERM the relay drains: listeners keep listening, new ones and new sources get 503, and "
          "it exits when the last listener leaves",
          "[drain]") {
  RelayProcess relay({"--drain", "30", "--workers", "2"});
  SourceConnection source = connect_source(relay.port());
  Viewer first(relay.port(), "/live.ts", listener_options());
  Viewer second(relay.port(), "/live.ts", listener_options());
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("viewers") == 2; }, 10s));
  send_all(source.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return first.received() == 100 * kPacketBytes; }, 10s));
  CHECK(health(relay.port()).head.status == 200);

  REQUIRE(::kill(relay.pid(), SIGTERM) == 0);
  REQUIRE(wait_until([&] { return health(relay.port()).head.status == 503; }, 10s));
  CHECK(health(relay.port()).body == "draining\n");
  // New listeners and sources are sent elsewhere; a balancer retries them on another server.
  const Response refused = http_exchange(relay.port(), "GET /live.ts HTTP/1.0\r\n\r\n");
  CHECK(refused.head.status == 503);
  CHECK(refused.head.header("Retry-After") == "5");
  SourceOptions other;
  other.mount = "/other.ts";
  CHECK(http_exchange(relay.port(), source_request_head(other)).head.status == 503);
  // The present listeners go on hearing the source, which goes on sending.
  send_all(source.socket, pattern(100 * kPacketBytes, 100 * kPacketBytes), Clock::now() + 10s);
  CHECK(wait_until([&] { return first.received() == 200 * kPacketBytes && second.received() == 200 * kPacketBytes; },
                   10s));
  const auto stats = fetch_stats(relay.port());
  CHECK(stats.at("refused").at("draining") == 2);
  // The last listener leaves: the relay exits well before the drain period (30 s) is over.
  first.hang_up();
  second.hang_up();
  CHECK(first.checker().ok());
  CHECK(second.checker().ok());
  const auto left = Clock::now();
  CHECK(relay.wait_exit(10s) == 0);
  CHECK(Clock::now() - left < 5s);
  CHECK(relay.log().find("drained: no listener is left") != std::string::npos);
}

TEST_CASE("a drain that listeners outlast ends with the drain period, and a second SIGTERM ends it at once",
          "[drain]") {
  const bool second_signal = GENERATE(false, true);
  INFO((second_signal ? "a second SIGTERM" : "the period runs out"));
  RelayProcess relay({"--drain", second_signal ? "60" : "1.5"});
  SourceConnection source = connect_source(relay.port());
  Viewer::Options options = listener_options();
  options.deadline = 30s;
  Viewer stays(relay.port(), "/live.ts", options);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("viewers") == 1; }, 10s));
  send_all(source.socket, pattern(0, 10 * kPacketBytes), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return stays.received() == 10 * kPacketBytes; }, 10s));
  const auto signalled = Clock::now();
  REQUIRE(::kill(relay.pid(), SIGTERM) == 0);
  REQUIRE(wait_until([&] { return health(relay.port()).head.status == 503; }, 10s));
  if (second_signal) REQUIRE(::kill(relay.pid(), SIGTERM) == 0);
  CHECK(relay.wait_exit(10s) == 0);
  if (!second_signal) CHECK(Clock::now() - signalled >= 1400ms);
  // The listener that stayed got everything, then its connection closed.
  stays.join();
  CHECK(stays.eof());
  CHECK(stays.received() == 10 * kPacketBytes);
}
