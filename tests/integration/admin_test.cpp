// The operators' surface against the real binary: /metrics, admin endpoints behind the admin
// password, the admin listener and --stats-access, the access log, and SIGHUP reloads.
#include <catch2/catch.hpp>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr std::string_view kAdminPassword = "s3cret-admin";

std::string get_request(std::string_view target, std::string_view authorization = {}) {
  std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n";
  if (!authorization.empty()) request += "Authorization: " + std::string(authorization) + "\r\n";
  return request + "\r\n";
}

Response admin_get(std::uint16_t port, std::string_view target) {
  return http_exchange(port, get_request(target, basic_auth("admin", kAdminPassword)));
}

// The value of an unlabelled or labelled sample in a Prometheus exposition; nullopt if absent.
std::optional<double> metric(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("/metrics counts what was pushed and pulled, in the Prometheus text format", "[operators]") {
  RelayProcess relay;
  constexpr std::uint64_t kTotal = 400 * kPacketBytes;
  SourceConnection source = connect_source(relay.port());
  Viewer first(relay.port(), "/live.ts");
  Viewer second(relay.port(), "/live.ts");
  send_all(source.socket, pattern(0, kTotal), Clock::now() + 10s);
  CHECK(wait_until([&] { return first.received() == kTotal && second.received() == kTotal; }, 10s));
  CHECK(http_exchange(relay.port(), "PUT /other.ts HTTP/1.0\r\n\r\n").head.status == 401);

  const Response response = http_exchange(relay.port(), get_request("/metrics"));
  REQUIRE(response.head.status == 200);
  CHECK(response.head.header("Content-Type").value_or("").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string& text = response.body;
  CHECK(metric(text, "ringcast_viewers{mount=\"/live.ts\"}") == 2);
  CHECK(metric(text, "ringcast_mount_bytes_in_total{mount=\"/live.ts\"}") == kTotal);
  CHECK(metric(text, "ringcast_mount_bytes_out_total{mount=\"/live.ts\"}") == 2 * kTotal);
  CHECK(metric(text, "ringcast_mount_joins_total{mount=\"/live.ts\"}") == 2);
  CHECK(metric(text, "ringcast_mount_source_connected{mount=\"/live.ts\"}") == 1);
  CHECK(metric(text, "ringcast_refusals_total{reason=\"auth\"}") == 1);
  CHECK(metric(text, "ringcast_bytes_out_total") == 2 * kTotal);
  // The batch histogram accounts for every byte written, and its buckets are cumulative.
  CHECK(metric(text, "ringcast_write_batch_bytes_sum") == 2 * kTotal);
  const auto count = metric(text, "ringcast_write_batch_bytes_count");
  REQUIRE(count);
  CHECK(*count >= 2);
  CHECK(metric(text, "ringcast_write_batch_bytes_bucket{le=\"+Inf\"}") == *count);
  CHECK(metric(text, "ringcast_write_batch_bytes_bucket{le=\"188\"}") <= metric(text, "ringcast_write_batch_bytes_bucket{le=\"1316\"}"));
  CHECK(metric(text, "ringcast_event_loop_lag_seconds{loop=\"main\"}").has_value());
  CHECK(metric(text, "ringcast_event_loop_lag_seconds{loop=\"worker-0\"}").has_value());
  const auto busy = metric(text, "ringcast_worker_busy_ratio{worker=\"0\"}");
  REQUIRE(busy);
  CHECK(*busy >= 0);
  CHECK(*busy <= 1);
  CHECK(metric(text, "ringcast_write_delay_seconds{worker=\"0\"}").has_value());
  // Every family is announced once with HELP and TYPE.
  CHECK(text.find("# TYPE ringcast_viewers gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE ringcast_mount_bytes_out_total counter\n") != std::string::npos);
  CHECK(text.find("# TYPE ringcast_write_batch_bytes histogram\n") != std::string::npos);
  // HEAD: the same head, no body.
  const Response head = http_exchange(relay.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(head.head.status == 200);
  CHECK(head.body.empty());
  CHECK(std::stoul(head.head.header("Content-Length").value_or("0")) > 1000);
  first.hang_up();
  second.hang_up();
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("admin endpoints want the admin password and are off without one", "[operators]") {
  SECTION("no admin password: 403") {
    RelayProcess relay;
    CHECK(http_exchange(relay.port(), get_request("/admin/listclients?mount=/live.ts")).head.status == 403);
    REQUIRE(relay.stop() == 0);
  }
  SECTION("missing or wrong credentials: 401 with a challenge") {
    RelayProcess relay({"--admin-password", std::string(kAdminPassword)});
    const Response none = http_exchange(relay.port(), get_request("/admin/listclients?mount=/live.ts"));
    CHECK(none.head.status == 401);
    CHECK(none.head.header("WWW-Authenticate").value_or("").rfind("Basic", 0) == 0);
    CHECK(http_exchange(relay.port(), get_request("/admin/listclients?mount=/live.ts",
                                                  basic_auth("admin", "wrong")))
              .head.status == 401);
    // The source password is not the admin password.
    CHECK(http_exchange(relay.port(), get_request("/admin/listclients?mount=/live.ts",
                                                  basic_auth("admin", kPassword)))
              .head.status == 401);
    CHECK(fetch_stats(relay.port()).at("refused").at("auth") == 3);
    REQUIRE(relay.stop() == 0);
  }
}

TEST_CASE("an admin lists a mount's viewers over every worker and kicks one, then the source", "[operators]") {
  RelayProcess relay({"--admin-password", std::string(kAdminPassword), "--workers", "2"});
  constexpr std::uint64_t kFirst = 200 * kPacketBytes;
  SourceConnection source = connect_source(relay.port());
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < 3; ++i) {
    viewers.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts", Viewer::Options{.contiguous = false}));
  }
  send_all(source.socket, pattern(0, kFirst), Clock::now() + 10s);
  REQUIRE(wait_until([&] {
    for (auto& v : viewers) if (v->received() < kFirst) return false;
    return true;
  }, 10s));

  CHECK(admin_get(relay.port(), "/admin/listclients").head.status == 400);
  CHECK(admin_get(relay.port(), "/admin/listclients?mount=/nothing.ts").head.status == 404);
  CHECK(admin_get(relay.port(), "/admin/nonsense?mount=/live.ts").head.status == 404);

  const Response listed = admin_get(relay.port(), "/admin/listclients?mount=%2Flive.ts&format=json");
  REQUIRE(listed.head.status == 200);
  const auto list = nlohmann::json::parse(listed.body);
  CHECK(list.at("mount") == "/live.ts");
  REQUIRE(list.at("viewers").size() == 3);
  std::set<std::uint64_t> workers;
  for (const auto& viewer : list.at("viewers")) {
    CHECK(viewer.at("bytes_sent") == kFirst);
    CHECK(viewer.at("lag_bytes") == 0);
    CHECK(viewer.at("address").get<std::string>().rfind("127.0.0.1:", 0) == 0);
    CHECK(viewer.at("connected_seconds").get<double>() >= 0);
    workers.insert(viewer.at("worker").get<std::uint64_t>());
  }
  CHECK(workers.size() == 2);  // spread over both loops, and both answered

  // Kick the viewer the list names first; it sees EOF, the others stay.
  const std::uint64_t id = list.at("viewers").at(0).at("id");
  const Response kicked = admin_get(relay.port(), "/admin/killclient?mount=/live.ts&id=" + std::to_string(id));
  CHECK(kicked.head.status == 200);
  CHECK(admin_get(relay.port(), "/admin/killclient?mount=/live.ts&id=" + std::to_string(id)).head.status == 404);
  CHECK(admin_get(relay.port(), "/admin/killclient?mount=/live.ts&id=abc").head.status == 400);
  CHECK(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("viewers") == 2; }, 5s));
  CHECK(wait_until([&] {
    int n = 0;
    for (auto& v : viewers) n += v->eof() ? 1 : 0;
    return n == 1;
  }, 5s));

  // The others keep receiving.
  send_all(source.socket, pattern(kFirst, kFirst), Clock::now() + 10s);
  CHECK(wait_until([&] {
    int full = 0;
    for (auto& v : viewers) full += v->received() == 2 * kFirst ? 1 : 0;
    return full == 2;
  }, 10s));

  // Kick the source: the relay closes it; the mount waits for a new one (grace).
  CHECK(admin_get(relay.port(), "/admin/killsource?mount=/live.ts").head.status == 200);
  CHECK(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("source_connected") == false; }, 5s));
  std::uint8_t byte = 0;
  CHECK(read_some(source.socket, &byte, 1, Clock::now() + 5s) == std::optional<std::size_t>(0));
  CHECK(admin_get(relay.port(), "/admin/killsource?mount=/live.ts").head.status == 404);
  for (auto& v : viewers) v->hang_up();
  for (auto& v : viewers) CHECK(v->checker().ok());
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("the admin listener serves the operators pages, and the stats access rule decides who sees them", "[operators]") {
  SECTION("admin-listener: /stats and /metrics only there; streams never there") {
    RelayProcess relay({"--admin-password", std::string(kAdminPassword), "--admin-listen", "127.0.0.1:0",
                        "--stats-access", "admin-listener"});
    REQUIRE(relay.admin_port() != 0);
    CHECK(http_exchange(relay.port(), get_request("/stats")).head.status == 404);
    CHECK(http_exchange(relay.port(), get_request("/metrics")).head.status == 404);
    CHECK(http_exchange(relay.admin_port(), get_request("/stats")).head.status == 200);
    CHECK(http_exchange(relay.admin_port(), get_request("/metrics")).head.status == 200);
    // Admin actions still want the password, on either listener.
    CHECK(http_exchange(relay.admin_port(), get_request("/admin/listclients?mount=/x.ts")).head.status == 401);
    CHECK(admin_get(relay.admin_port(), "/admin/listclients?mount=/x.ts").head.status == 404);
    // No sources or viewers on the admin listener.
    SourceOptions options;
    CHECK(http_exchange(relay.admin_port(), source_request_head(options)).head.status == 404);
    CHECK(http_exchange(relay.admin_port(), get_request("/live.ts")).head.status == 404);
    // The public listener still streams.
    SourceConnection source = connect_source(relay.port());
    Viewer viewer(relay.port(), "/live.ts");
    send_all(source.socket, pattern(0, 50 * kPacketBytes), Clock::now() + 10s);
    CHECK(wait_until([&] { return viewer.received() == 50 * kPacketBytes; }, 10s));
    viewer.hang_up();
    REQUIRE(relay.stop() == 0);
  }
  SECTION("password: /stats and /metrics want the admin password everywhere") {
    RelayProcess relay({"--admin-password", std::string(kAdminPassword), "--stats-access", "password"});
    CHECK(http_exchange(relay.port(), get_request("/stats")).head.status == 401);
    CHECK(http_exchange(relay.port(), get_request("/metrics")).head.status == 401);
    CHECK(admin_get(relay.port(), "/stats").head.status == 200);
    CHECK(admin_get(relay.port(), "/metrics").head.status == 200);
    REQUIRE(relay.stop() == 0);
  }
}

TEST_CASE("the access log has one line per finished viewer and source session", "[operators]") {
  TempDir dir;
  const auto log_path = dir.path / "access.log";
  RelayProcess relay({"--access-log", log_path.string()});
  constexpr std::uint64_t kTotal = 100 * kPacketBytes;
  {
    SourceConnection source = connect_source(relay.port());
    Socket viewer = connect_loopback(relay.port());
    send_all(viewer, "GET /live.ts HTTP/1.1\r\nHost: x\r\nUser-Agent: \"quoted\" player\r\n"
                     "Referer: http://example.test/page\r\n\r\n", Clock::now() + 5s);
    REQUIRE(read_response_head(viewer, Clock::now() + 5s).status == 200);
    send_all(source.socket, pattern(0, kTotal), Clock::now() + 10s);
    REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").at("bytes_out") == kTotal; }, 10s));
    viewer.close();
    REQUIRE(wait_until([&] { return read_file(log_path).find("GET /live.ts") != std::string::npos; }, 5s));
  }  // the source hangs up
  REQUIRE(wait_until([&] { return read_file(log_path).find("PUT /live.ts") != std::string::npos; }, 5s));
  REQUIRE(relay.stop() == 0);

  const std::string text = read_file(log_path);
  std::istringstream lines(text);
  std::string viewer_line, source_line, line;
  while (std::getline(lines, line)) {
    if (line.find("\"GET /live.ts HTTP/1.1\"") != std::string::npos) viewer_line = line;
    if (line.find("\"PUT /live.ts HTTP/1.1\"") != std::string::npos) source_line = line;
  }
  INFO(text);
  // host ident user [time] "request" status bytes "referer" "user-agent" seconds reason
  CHECK(viewer_line.rfind("127.0.0.1 - - [", 0) == 0);
  CHECK(viewer_line.find(" 200 " + std::to_string(kTotal) + " ") != std::string::npos);
  CHECK(viewer_line.find("\"http://example.test/page\" \"\\\"quoted\\\" player\"") != std::string::npos);
  // The viewer closed with bytes unread: its kernel answered with a reset.
  CHECK((viewer_line.ends_with(" peer-closed") || viewer_line.ends_with(" peer-reset")));
  CHECK(source_line.rfind("127.0.0.1 - source [", 0) == 0);
  CHECK(source_line.find(" 200 " + std::to_string(kTotal) + " \"-\" \"ringcast-integration-tests\" ") != std::string::npos);
  CHECK(source_line.ends_with(" peer-closed"));
}

TEST_CASE("SIGHUP reloads passwords and mounts from the config file and keeps every connection", "[operators]") {
  TempDir dir;
  const auto config = dir.path / "ringcast.toml";
  write_file(config, "source_password = \"first\"\n"
                     "[mounts.\"/special.ts\"]\nsource_password = \"special-one\"\nmax_viewers = 1\n");
  // The harness passes --source-password; a password given on the command line beats the
  // file, so this relay's global one stays "hackme" across reloads.
  RelayProcess relay({"--config", config.string()});

  SourceOptions special;
  special.mount = "/special.ts";
  special.password = "special-one";
  SourceConnection special_source = connect_source(relay.port(), special);
  SourceConnection live_source = connect_source(relay.port());
  Viewer special_viewer(relay.port(), "/special.ts");
  Viewer live_viewer(relay.port(), "/live.ts");
  // max_viewers = 1 for /special.ts
  CHECK(http_exchange(relay.port(), get_request("/special.ts")).head.status == 503);
  send_all(special_source.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  send_all(live_source.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  REQUIRE(wait_until([&] { return special_viewer.received() == 100 * kPacketBytes &&
                                  live_viewer.received() == 100 * kPacketBytes; }, 10s));

  write_file(config, "source_password = \"second\"\n"
                     "[mounts.\"/special.ts\"]\nsource_password = \"special-two\"\nmax_viewers = 5\n"
                     "[mounts.\"/new.ts\"]\nsource_password = \"new-one\"\n");
  const auto reloaded_lines = [&] {
    std::size_t n = 0, at = 0;
    const std::string log = relay.log();
    while ((at = log.find("reloaded", at)) != std::string::npos) ++n, ++at;
    return n;
  };
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  const bool reloaded = wait_until([&] { return reloaded_lines() == 1; }, 10s);
  INFO(relay.log());
  REQUIRE(reloaded);

  // New passwords apply to new sources; the old per-mount one no longer works.
  SourceOptions fresh;
  fresh.mount = "/new.ts";
  fresh.password = "new-one";
  SourceConnection new_source = connect_source(relay.port(), fresh);
  // /special.ts has a live source: the right password gets 403 (in use), a wrong one 401.
  CHECK(http_exchange(relay.port(), source_request_head(special)).head.status == 401);
  SourceOptions current = special;
  current.password = "special-two";
  CHECK(http_exchange(relay.port(), source_request_head(current)).head.status == 403);
  // The new limit applies at once.
  Viewer second_special(relay.port(), "/special.ts");
  CHECK(second_special.response().status == 200);

  // Nothing dropped: both old sources still stream to their viewers.
  send_all(special_source.socket, pattern(100 * kPacketBytes, 100 * kPacketBytes), Clock::now() + 10s);
  send_all(live_source.socket, pattern(100 * kPacketBytes, 100 * kPacketBytes), Clock::now() + 10s);
  CHECK(wait_until([&] { return special_viewer.received() == 200 * kPacketBytes &&
                                live_viewer.received() == 200 * kPacketBytes; }, 10s));

  // A broken file is refused with its line, and the running config stays.
  write_file(config, "source_password = \"third\"\nmax_mounts = \"many\"\n");
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  REQUIRE(wait_until([&] { return relay.log().find("config not reloaded") != std::string::npos; }, 5s));
  CHECK(relay.log().find(":2:") != std::string::npos);
  SourceOptions again = fresh;
  again.mount = "/new.ts";
  CHECK(http_exchange(relay.port(), source_request_head(again)).head.status == 403);  // still live

  CHECK(special_viewer.checker().ok());
  CHECK(live_viewer.checker().ok());
  special_viewer.hang_up();
  live_viewer.hang_up();
  second_special.hang_up();
  REQUIRE(relay.stop() == 0);
}
