// Relay trees on loopback: an edge (--relay-origin) pulls a mount it lacks from its origin when
// a listener asks, serves every listener from one pull, forwards the origin's titles, stops
// after its linger, remembers a missing mount briefly, and refuses relay loops.
#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "fault_proxy.h"
#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr double kRate = 256'000;  // bytes per second: a 2 Mbit/s TS feed
constexpr std::string_view kAdminPassword = "edge-admin";

std::string origin_url(const RelayProcess& origin) {
  return "http://127.0.0.1:" + std::to_string(origin.port());
}

std::uint64_t mount_viewers(std::uint16_t port, const std::string& mount) {
  const auto stats = fetch_stats(port);
  const auto& mounts = stats.at("mounts");
  return mounts.contains(mount) ? mounts.at(mount).at("viewers").get<std::uint64_t>() : 0;
}

std::uint64_t refused(std::uint16_t port, const std::string& reason) {
  return fetch_stats(port).at("refused").at(reason).get<std::uint64_t>();
}

Viewer::Options bounded() {
  Viewer::Options options;
  options.deadline = 30s;
  return options;
}

}  // namespace

TEST_CASE("an edge pulls a mount on demand and serves every listener from one pull", "[edge]") {
  RelayProcess origin;
  SourceConnection source = connect_source(origin.port());
  PacedSource feed(std::move(source.socket), 0, static_cast<std::uint64_t>(kRate * 20), kRate);
  RelayProcess edge({"--relay-origin", origin_url(origin)});

  Viewer first(edge.port(), "/live.ts", bounded());
  Viewer second(edge.port(), "/live.ts", bounded());
  REQUIRE(wait_until(
      [&] { return first.received() > 256 * 1024 && second.received() > 256 * 1024; }, 15s));
  // Two listeners here, one at the origin: the edge's pull.
  CHECK(mount_viewers(edge.port(), "/live.ts") == 2);
  CHECK(mount_viewers(origin.port(), "/live.ts") == 1);
  const auto relay = fetch_stats(edge.port()).at("mounts").at("/live.ts").at("relay");
  CHECK(relay.at("origin") == origin_url(origin));
  CHECK(relay.at("state") == "streaming");
  CHECK(relay.at("connects") == 1);
  const std::string metrics = http_exchange(edge.port(), "GET /metrics HTTP/1.0\r\n\r\n").body;
  CHECK(metrics.find("ringcast_relay_streaming{mount=\"/live.ts\",origin=\"" + origin_url(origin) +
                     "\"} 1\n") != std::string::npos);
  CHECK(metrics.find("ringcast_relay_connects_total{mount=\"/live.ts\"} 1\n") != std::string::npos);
  CHECK(metrics.find("ringcast_relay_failovers_total{mount=\"/live.ts\"} 0\n") !=
        std::string::npos);
  first.hang_up();
  second.hang_up();
  // Every byte a listener of the edge got is the source's, in order, whole packets.
  CHECK(first.error() == "");
  CHECK(first.checker().error() == "");
  CHECK(second.checker().error() == "");
  CHECK(first.checker().packets() > 1000);
  feed.stop();
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

TEST_CASE("an edge stops its pull a linger time after the last listener left", "[edge]") {
  RelayProcess origin;
  SourceConnection source = connect_source(origin.port());
  PacedSource feed(std::move(source.socket), 0, static_cast<std::uint64_t>(kRate * 20), kRate);
  RelayProcess edge({"--relay-origin", origin_url(origin), "--relay-linger", "1", "--grace", "1"});
  {
    Viewer viewer(edge.port(), "/live.ts", bounded());
    REQUIRE(wait_until([&] { return viewer.received() > 64 * 1024; }, 15s));
    CHECK(mount_viewers(origin.port(), "/live.ts") == 1);
    viewer.hang_up();
    CHECK(viewer.checker().error() == "");
  }
  // linger 1 s, then the pull closes: the origin loses its listener, and the edge's mount
  // goes after its grace.
  CHECK(wait_until([&] { return mount_viewers(origin.port(), "/live.ts") == 0; }, 10s));
  CHECK(
      wait_until([&] { return !fetch_stats(edge.port()).at("mounts").contains("/live.ts"); }, 10s));
  // A new listener starts a new pull.
  Viewer again(edge.port(), "/live.ts", bounded());
  CHECK(wait_until([&] { return again.received() > 64 * 1024; }, 15s));
  again.hang_up();
  CHECK(again.checker().error() == "");
  feed.stop();
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

TEST_CASE("a mount no origin has is 404 at the edge, and a storm costs the origin one request",
          "[edge]") {
  RelayProcess origin;
  RelayProcess edge({"--relay-origin", origin_url(origin)});
  // 20 at once: one pull, whose answer all of them hear; then 20 more, answered from the cache.
  std::vector<std::future<int>> storm;
  for (int i = 0; i < 20; ++i) {
    storm.push_back(std::async(std::launch::async, [&] {
      return http_exchange(edge.port(), "GET /nowhere.mp3 HTTP/1.0\r\n\r\n").head.status;
    }));
  }
  for (auto& status : storm) CHECK(status.get() == 404);
  for (int i = 0; i < 20; ++i) {
    CHECK(http_exchange(edge.port(), "GET /nowhere.mp3 HTTP/1.0\r\n\r\n").head.status == 404);
  }
  CHECK(refused(origin.port(), "not_found") == 1);
  CHECK(refused(edge.port(), "not_found") == 40);
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

TEST_CASE("an origin that is down is 502 at the edge, not a hang", "[edge]") {
  // Nothing listens on port 1: every connection is refused at once.
  RelayProcess edge({"--relay-origin", "http://127.0.0.1:1"});
  const Response response = http_exchange(edge.port(), "GET /live.ts HTTP/1.0\r\n\r\n");
  CHECK(response.head.status == 502);
  CHECK(refused(edge.port(), "origin") == 1);
  REQUIRE(edge.stop() == 0);
}

TEST_CASE("a relay loop is refused with 508, and the chain grows by one id per hop", "[edge]") {
  RelayProcess origin;
  RelayProcess edge({"--relay-origin", origin_url(origin)});
  const std::string origin_id = fetch_stats(origin.port()).at("relay_id");
  const std::string edge_id = fetch_stats(edge.port()).at("relay_id");
  REQUIRE(origin_id != edge_id);
  // A request that passed through the edge already.
  Response response = http_exchange(
      edge.port(), "GET /a.mp3 HTTP/1.0\r\nX-Ringcast-Relay: " + edge_id + "\r\n\r\n");
  CHECK(response.head.status == 508);
  // One that passed through the origin: the edge pulls from the origin on its behalf, with the
  // chain "origin, edge"; the origin sees itself in it and refuses, and so does the edge.
  response = http_exchange(edge.port(),
                           "GET /b.mp3 HTTP/1.0\r\nX-Ringcast-Relay: " + origin_id + "\r\n\r\n");
  CHECK(response.head.status == 508);
  CHECK(refused(origin.port(), "relay_loop") == 1);
  CHECK(refused(edge.port(), "relay_loop") == 1);  // its own; the pull's 508 counts as "origin"
  // Eight hops are the most a pull may have passed through.
  response = http_exchange(
      edge.port(), "GET /c.mp3 HTTP/1.0\r\nX-Ringcast-Relay: 1, 2, 3, 4, 5, 6, 7, 8\r\n\r\n");
  CHECK(response.head.status == 508);
  // Seven pass the edge, which makes them eight on its way to the origin: refused there.
  response = http_exchange(edge.port(),
                           "GET /d.mp3 HTTP/1.0\r\nX-Ringcast-Relay: 1, 2, 3, 4, 5, 6, 7\r\n\r\n");
  CHECK(response.head.status == 508);
  // Six pass both (and the origin lacks the mount).
  response = http_exchange(edge.port(),
                           "GET /e.mp3 HTTP/1.0\r\nX-Ringcast-Relay: 1, 2, 3, 4, 5, 6\r\n\r\n");
  CHECK(response.head.status == 404);
  CHECK(refused(origin.port(), "relay_loop") == 2);
  CHECK(refused(edge.port(), "relay_loop") == 2);
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

TEST_CASE("a title set at the origin reaches the edge and its ICY listeners", "[edge]") {
  RelayProcess origin({"--admin-password", std::string(kAdminPassword)});
  SourceOptions options;
  options.mount = "/radio.mp3";
  options.content_type = "audio/mpeg";
  SourceConnection source = connect_source(origin.port(), options);
  PacedSource feed(std::move(source.socket), 0, 32'000 * 20, 32'000);
  RelayProcess edge({"--relay-origin", origin_url(origin), "--icy-metaint", "8000"});

  Socket listener = connect_loopback(edge.port());
  send_all(listener, "GET /radio.mp3 HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", Clock::now() + 5s);
  const ResponseHead head = read_response_head(listener, Clock::now() + 15s);
  REQUIRE(head.status == 200);
  CHECK(head.header("icy-metaint") == "8000");

  const Response set = http_exchange(
      origin.port(),
      "GET /admin/metadata?mount=/radio.mp3&mode=updinfo&song=Edge%20Test%20Song HTTP/1.0\r\n"
      "Authorization: " +
          basic_auth("admin", kAdminPassword) + "\r\n\r\n");
  REQUIRE(set.head.status == 200);
  CHECK(wait_until(
      [&] {
        const auto mounts = fetch_stats(edge.port()).at("mounts");
        return mounts.contains("/radio.mp3") &&
               mounts.at("/radio.mp3").value("title", "") == "Edge Test Song";
      },
      10s));
  // The edge's own ICY blocks carry it to its listener (the origin's blocks never do: only
  // stream bytes sit between the edge's blocks).
  std::string received;
  const auto deadline = Clock::now() + 10s;
  std::uint8_t buffer[16 * 1024];
  while (received.find("StreamTitle='Edge Test Song';") == std::string::npos &&
         Clock::now() < deadline) {
    const auto n = read_some(listener, buffer, sizeof(buffer), deadline);
    if (!n || *n == 0) break;
    received.append(reinterpret_cast<const char*>(buffer), *n);
  }
  CHECK(received.find("StreamTitle='Edge Test Song';") != std::string::npos);
  listener.close();
  feed.stop();
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

namespace {

// Which feed a packet came from: origin A's source sends sequences from 0, B's from kFeedB.
constexpr std::uint64_t kFeedB = 1'000'000'000;

struct FeedRun {
  char feed;                  // 'A' or 'B'
  std::uint64_t first, last;  // packet sequences
};

// Splits what a listener received into runs of consecutive packets of one feed. Every packet
// must be whole and valid; a feed change may only happen between whole packets.
std::vector<FeedRun> feed_runs(const std::vector<std::uint8_t>& stream, std::string& error) {
  std::vector<FeedRun> runs;
  std::size_t at = 0;
  for (; at + kPacketBytes <= stream.size(); at += kPacketBytes) {
    const std::uint8_t* packet = stream.data() + at;
    std::uint64_t sequence = 0;
    for (int i = 0; i < 8; ++i) sequence |= std::uint64_t{packet[1 + i]} << (8 * i);
    bool valid = packet[0] == 0x47;
    for (std::size_t i = 9; valid && i < kPacketBytes; ++i)
      valid = packet[i] == pattern_byte(sequence * kPacketBytes + i);
    if (!valid) {
      error = "byte " + std::to_string(at) + ": not a whole packet of either feed";
      return runs;
    }
    const char feed = sequence >= kFeedB ? 'B' : 'A';
    if (!runs.empty() && runs.back().feed == feed && sequence == runs.back().last + 1) {
      runs.back().last = sequence;
    } else {
      runs.push_back({feed, sequence, sequence});
    }
  }
  return runs;
}

std::string origin_in_use(std::uint16_t edge_port, const std::string& mount) {
  const auto mounts = fetch_stats(edge_port).at("mounts");
  if (!mounts.contains(mount) || !mounts.at(mount).contains("relay")) return "";
  const auto& relay = mounts.at(mount).at("relay");
  return relay.at("state") == "streaming" ? relay.at("origin").get<std::string>() : "";
}

// Two origins with a source each (A's sequences from 0, B's from kFeedB); the edge reaches A
// through a fault proxy.
struct TwoOrigins {
  explicit TwoOrigins(double seconds)
      : feed_a(connect_source(origin_a.port()).socket, 0,
               static_cast<std::uint64_t>(kRate * seconds), kRate),
        feed_b(connect_source(origin_b.port()).socket, kFeedB * kPacketBytes,
               static_cast<std::uint64_t>(kRate * seconds), kRate),
        to_a(origin_a.port()),
        url_a("http://127.0.0.1:" + std::to_string(to_a.port())),
        url_b(origin_url(origin_b)) {}

  // A listener of the edge that keeps what it receives, once it is fed by A.
  static Viewer::Options listener_options() {
    Viewer::Options options = bounded();
    options.contiguous = false;
    options.keep_stream = true;
    return options;
  }

  void finish(RelayProcess& edge) {
    to_a.set_mode(FaultProxy::Mode::refuse);  // lets stalled connections go
    feed_a.stop();
    feed_b.stop();
    REQUIRE(edge.stop() == 0);
    REQUIRE(origin_a.stop() == 0);
    REQUIRE(origin_b.stop() == 0);
  }

  RelayProcess origin_a;
  RelayProcess origin_b;
  PacedSource feed_a;
  PacedSource feed_b;
  FaultProxy to_a;
  const std::string url_a;
  const std::string url_b;
};

}  // namespace

TEST_CASE("an edge fails over to its second origin and moves back when the first returns",
          "[edge]") {
  TwoOrigins origins(30);
  FaultProxy& to_a = origins.to_a;
  const std::string& url_a = origins.url_a;
  const std::string& url_b = origins.url_b;
  RelayProcess edge(
      {"--relay-origin", url_a, "--relay-origin", url_b, "--relay-retry-preferred", "1"});
  Viewer viewer(edge.port(), "/live.ts", TwoOrigins::listener_options());
  REQUIRE(wait_until(
      [&] {
        return viewer.received() > 128 * 1024 && origin_in_use(edge.port(), "/live.ts") == url_a;
      },
      15s));

  // A goes away: its connection is cut and new ones are refused. The edge takes B's feed and
  // its listener stays connected through the mount's grace.
  to_a.set_mode(FaultProxy::Mode::refuse);
  REQUIRE(wait_until([&] { return origin_in_use(edge.port(), "/live.ts") == url_b; }, 10s));
  const std::uint64_t at_failover = viewer.received();
  REQUIRE(wait_until([&] { return viewer.received() > at_failover + 128 * 1024; }, 10s));

  // A is back: within a retry interval the edge moves back to it.
  to_a.set_mode(FaultProxy::Mode::pass);
  REQUIRE(wait_until([&] { return origin_in_use(edge.port(), "/live.ts") == url_a; }, 10s));
  const std::uint64_t at_return = viewer.received();
  REQUIRE(wait_until([&] { return viewer.received() > at_return + 128 * 1024; }, 10s));
  const auto relay = fetch_stats(edge.port()).at("mounts").at("/live.ts").at("relay");
  CHECK(relay.at("failovers") == 2);
  CHECK(relay.at("connects") == 3);
  // Three feeds opened, two closed: the open count settles at the listener, the feed and the
  // request asking (earlier requests' connections close as their clients hang up).
  CHECK(wait_until([&] { return fetch_stats(edge.port()).at("connections").at("open") == 3; }, 5s));
  viewer.hang_up();
  CHECK(viewer.error() == "");
  CHECK_FALSE(viewer.eof());  // one connection throughout

  // What the listener heard: A, then B, then A again, each feed in order, whole packets, and
  // nothing of a feed after the next one began (no byte of B after the return, and A's second
  // run starts after its first ended).
  std::string error;
  const std::vector<FeedRun> runs = feed_runs(viewer.stream(), error);
  CHECK(error == "");
  std::string order;
  for (const auto& run : runs) order += run.feed;
  INFO("runs: " << order);
  // Within a feed a run may restart further on (the lane's skip-free join of the new feed).
  std::string changes;
  for (const auto& run : runs) {
    if (changes.empty() || changes.back() != run.feed) changes += run.feed;
  }
  CHECK(changes == "ABA");
  std::uint64_t last_a = 0;
  bool seen_b = false;
  for (const auto& run : runs) {
    if (run.feed == 'B') seen_b = true;
    if (run.feed == 'A' && seen_b) CHECK(run.first > last_a);
    if (run.feed == 'A') last_a = std::max(last_a, run.last);
  }
  origins.finish(edge);
}

TEST_CASE("an origin that stalls is dropped after the source timeout and the next one feeds",
          "[edge]") {
  TwoOrigins origins(30);
  FaultProxy& to_a = origins.to_a;
  const std::string& url_a = origins.url_a;
  const std::string& url_b = origins.url_b;
  // No retry of the preferred origin here: the stalled one would answer again at once.
  RelayProcess edge({"--relay-origin", url_a, "--relay-origin", url_b, "--relay-retry-preferred",
                     "0", "--source-timeout", "2"});
  Viewer viewer(edge.port(), "/live.ts", TwoOrigins::listener_options());
  REQUIRE(wait_until(
      [&] {
        return viewer.received() > 128 * 1024 && origin_in_use(edge.port(), "/live.ts") == url_a;
      },
      15s));
  // A's bytes stop, its connection stays open. After 2 s without a byte the edge drops it; its
  // new attempt at A gets no answer within the attempt timeout (5 s), then B serves.
  to_a.set_mode(FaultProxy::Mode::stall);
  REQUIRE(wait_until([&] { return origin_in_use(edge.port(), "/live.ts") == url_b; }, 12s));
  const std::uint64_t at_failover = viewer.received();
  REQUIRE(wait_until([&] { return viewer.received() > at_failover + 128 * 1024; }, 10s));
  viewer.hang_up();
  CHECK(viewer.error() == "");
  std::string error;
  const std::vector<FeedRun> runs = feed_runs(viewer.stream(), error);
  CHECK(error == "");
  REQUIRE(runs.size() >= 2);
  CHECK(runs.front().feed == 'A');
  CHECK(runs.back().feed == 'B');
  for (std::size_t i = 1; i < runs.size(); ++i)
    CHECK_FALSE((runs[i - 1].feed == 'B' && runs[i].feed == 'A'));
  origins.finish(edge);
}

TEST_CASE("a static relay pulls its mount all the time, under its own name, with credentials",
          "[edge]") {
  RelayProcess origin({"--admin-password", std::string(kAdminPassword)});
  SourceConnection source = connect_source(origin.port());
  PacedSource feed(std::move(source.socket), 0, static_cast<std::uint64_t>(kRate * 20), kRate);
  TempDir dir;
  const auto config = dir.path / "edge.toml";
  write_file(config,
             "[[relays]]\n"
             "url = \"http://admin:" +
                 std::string(kAdminPassword) + "@127.0.0.1:" + std::to_string(origin.port()) +
                 "/live.ts\"\n"
                 "mount = \"/mirror.ts\"\n"
                 "[mounts.\"/mirror.ts\"]\n"
                 "stream_name = \"The Mirror\"\n");
  RelayProcess edge({"--config", config.string()});
  // Nobody listens at the edge, and the origin has its listener: the relay is always on.
  REQUIRE(wait_until([&] { return mount_viewers(origin.port(), "/live.ts") == 1; }, 10s));
  const auto mirror = fetch_stats(edge.port()).at("mounts").at("/mirror.ts");
  CHECK(mirror.at("source_connected") == true);
  CHECK(mirror.at("relay").at("on_demand") == false);
  // The password never shows.
  CHECK(mirror.at("relay").at("origin") ==
        "http://admin@127.0.0.1:" + std::to_string(origin.port()) + "/live.ts");
  // The edge relays that mount only: others are 404 without asking the origin.
  CHECK(http_exchange(edge.port(), "GET /live.ts HTTP/1.0\r\n\r\n").head.status == 404);
  CHECK(refused(origin.port(), "not_found") == 0);
  Viewer viewer(edge.port(), "/mirror.ts", bounded());
  CHECK(wait_until([&] { return viewer.received() > 64 * 1024; }, 10s));
  // The edge's own settings for the mount apply to what it relays, as to a broadcaster's.
  CHECK(viewer.response().header("icy-name") == "The Mirror");
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  feed.stop();
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}

TEST_CASE("a slave relays every mount its master lists, and lets go of those that go", "[edge]") {
  TempDir dir;
  const auto master_config = dir.path / "master.toml";
  write_file(master_config,
             "relay_password = \"relay-pw\"\n[mounts.\"/hidden.ts\"]\nhidden = true\n");
  RelayProcess master({"--config", master_config.string(), "--grace", "1"});
  SourceOptions options;
  PacedSource live(connect_source(master.port(), options).socket, 0,
                   static_cast<std::uint64_t>(kRate * 20), kRate);
  options.mount = "/short.ts";
  PacedSource short_lived(connect_source(master.port(), options).socket, 0,
                          static_cast<std::uint64_t>(kRate * 2), kRate);
  options.mount = "/hidden.ts";
  PacedSource hidden(connect_source(master.port(), options).socket, 0,
                     static_cast<std::uint64_t>(kRate * 20), kRate);

  const auto slave_config = dir.path / "slave.toml";
  write_file(slave_config, "[master]\nurl = \"http://relay:relay-pw@127.0.0.1:" +
                               std::to_string(master.port()) + "\"\nupdate_interval = 1\n");
  RelayProcess slave({"--config", slave_config.string(), "--grace", "1"});
  // Every listed mount is pulled without a listener asking; the hidden one is not listed.
  REQUIRE(wait_until(
      [&] {
        return mount_viewers(master.port(), "/live.ts") == 1 &&
               mount_viewers(master.port(), "/short.ts") == 1;
      },
      10s));
  auto mounts = fetch_stats(slave.port()).at("mounts");
  CHECK(mounts.at("/live.ts").at("source_connected") == true);
  CHECK(mounts.at("/live.ts").at("relay").at("on_demand") == false);
  CHECK_FALSE(mounts.contains("/hidden.ts"));
  CHECK(mount_viewers(master.port(), "/hidden.ts") == 0);
  // A request for a mount the master does not list is not pulled.
  CHECK(http_exchange(slave.port(), "GET /hidden.ts HTTP/1.0\r\n\r\n").head.status == 404);
  Viewer viewer(slave.port(), "/live.ts", bounded());
  CHECK(wait_until([&] { return viewer.received() > 64 * 1024; }, 10s));
  // /short.ts ends at the master (its source stops, its grace runs out): it drops off the
  // list, the slave's pull stops and its mount ends after its own grace.
  short_lived.join();
  CHECK(wait_until([&] { return !fetch_stats(slave.port()).at("mounts").contains("/short.ts"); },
                   10s));
  CHECK(fetch_stats(slave.port()).at("mounts").contains("/live.ts"));
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  live.stop();
  hidden.stop();
  REQUIRE(slave.stop() == 0);
  REQUIRE(master.stop() == 0);
}

TEST_CASE("a listener whose origin does not answer gets 504 after the head timeout", "[edge]") {
  RelayProcess origin;
  FaultProxy silent(origin.port());
  silent.set_mode(FaultProxy::Mode::stall);  // accepts, never answers
  RelayProcess edge({"--relay-origin", "http://127.0.0.1:" + std::to_string(silent.port()),
                     "--head-timeout", "1"});
  // The pull's attempt would give up after 5 s (then 502); the listener's wait ends first.
  const Response response = http_exchange(edge.port(), "GET /live.ts HTTP/1.0\r\n\r\n");
  CHECK(response.head.status == 504);
  CHECK(refused(edge.port(), "origin") == 1);
  // The pull ends on its own later; its 502 finds nobody waiting (nothing more is refused).
  CHECK(wait_until(
      [&] {
        return http_exchange(edge.port(), "GET /metrics HTTP/1.0\r\n\r\n")
                   .body.find("ringcast_relay_streaming{") == std::string::npos;
      },
      10s));
  CHECK(refused(edge.port(), "origin") == 1);
  silent.set_mode(FaultProxy::Mode::refuse);
  REQUIRE(edge.stop() == 0);
  REQUIRE(origin.stop() == 0);
}
