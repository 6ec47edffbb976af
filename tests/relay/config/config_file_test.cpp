#include "ringcast/config/config_file.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

using namespace ringcast::relay;

namespace {

std::vector<ConfigProblem> parse(std::string_view text, RelayConfig& config) {
  return parse_config_text(text, "test.toml", config);
}

// The problems as a checker prints them, for readable failures and simple comparisons.
std::vector<std::string> formatted(const std::vector<ConfigProblem>& problems) {
  std::vector<std::string> lines;
  for (const auto& problem : problems) lines.push_back(format_problem("test.toml", problem));
  return lines;
}

bool mentions(const std::string& line, std::string_view text) {
  return line.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("every relay-wide config key is applied", "[config]") {
  RelayConfig config;
  const auto problems = parse(R"(
listen = "0.0.0.0:9000"
source_password = "s3cret"
admin_password = "adm1n"
admin_listen = "[::1]:9001"
stats_access = "admin-listener"
access_log = "-"
log_level = "debug"
workers = 3
ring_size = "8MiB"
burst = "128KiB"
grace = 2.5
source_timeout = 7
head_timeout = 0.25
max_head_bytes = 4096
max_write_bytes = "512k"
coalesce_bytes = "32 KiB"
max_write_delay = 80
full_delay_audience = 250
max_lag = "1MiB"
slow_viewer = "disconnect"
max_connections = 1000
max_viewers_per_mount = 50
max_mounts = 7
viewer_stall_timeout = 30
drain = 45
ready_mounts = ["/radio.mp3", "/live.ts"]
proxy_protocol = true
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
)",
                              config);
  REQUIRE(formatted(problems).empty());
  CHECK(config.listen_host == "0.0.0.0");
  CHECK(config.listen_port == 9000);
  CHECK(config.source_password == "s3cret");
  CHECK(config.admin_password == "adm1n");
  CHECK(config.admin_listen_host == "::1");
  CHECK(config.admin_listen_port == 9001);
  CHECK(config.stats_access == StatsAccess::admin_listener);
  CHECK(config.access_log == "-");
  CHECK(config.log_level == "debug");
  CHECK(config.workers == 3);
  CHECK(config.ring_bytes == 8 * 1024 * 1024);
  CHECK(config.fanout.burst_bytes == 128 * 1024);
  CHECK(config.grace_ms == 2500);
  CHECK(config.source_idle_timeout_ms == 7000);
  CHECK(config.head_timeout_ms == 250);
  CHECK(config.max_head_bytes == 4096);
  CHECK(config.fanout.max_write_bytes == 512 * 1024);
  CHECK(config.fanout.coalesce_bytes == 32 * 1024);
  CHECK(config.fanout.latency_budget_ms == 80);
  CHECK(config.fanout.full_delay_audience == 250);
  CHECK(config.fanout.max_lag_bytes == 1024 * 1024);
  CHECK(config.fanout.slow_action == SlowViewerAction::disconnect);
  CHECK(config.max_connections == 1000);
  CHECK(config.max_viewers_per_mount == 50);
  CHECK(config.max_mounts == 7);
  CHECK(config.viewer_stall_timeout_ms == 30'000);
  CHECK(config.drain_ms == 45'000);
  CHECK(config.ready_mounts == std::vector<std::string>{"/radio.mp3", "/live.ts"});
  CHECK(config.proxy_protocol);
  CHECK(config.trusted_proxies == std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
}

TEST_CASE("config keys left out of the file keep their value", "[config]") {
  RelayConfig config;
  config.workers = 6;
  config.source_password = "from-before";
  REQUIRE(parse("burst = 1000\n", config).empty());
  CHECK(config.fanout.burst_bytes == 1000);
  CHECK(config.workers == 6);
  CHECK(config.source_password == "from-before");
  CHECK(config.listen_port == RelayConfig{}.listen_port);
  REQUIRE(parse("", config).empty());
  CHECK(config.fanout.burst_bytes == 1000);
}

TEST_CASE("sizes take an integer or a unit, as the size flags do", "[config]") {
  CHECK(parse_size("65536") == 65536u);
  CHECK(parse_size("64k") == 65536u);
  CHECK(parse_size("64K") == 65536u);
  CHECK(parse_size("64kb") == 65536u);
  CHECK(parse_size("64KiB") == 65536u);
  CHECK(parse_size(" 64 KiB ") == 65536u);
  CHECK(parse_size("4m") == 4u << 20);
  CHECK(parse_size("4MiB") == 4u << 20);
  CHECK(parse_size("1g") == std::size_t{1} << 30);
  CHECK(parse_size("2TiB") == std::size_t{2} << 40);
  CHECK(parse_size("100b") == 100u);
  for (const char* bad : {"", "k", "-1", "+1", "1.5m", "4XB", "4 MiBs", "1 2", "0x10",
                          "99999999999999999999", "16EiB"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_size(bad));
  }
}

TEST_CASE("per-mount config sections become the mounts' settings", "[config]") {
  RelayConfig config;
  config.mounts["/old.ts"] = MountSettings{};
  const auto problems = parse(R"(
[mounts."/live.ts"]
source_password = "only-live"
burst = "256KiB"
ring_size = "16MiB"
max_viewers = 20
content_type = "video/mp2t"
latency_budget = 200
hls_segment_seconds = 4

[mounts."/radio/jazz.mp3"]
max_viewers = 0
ring_seconds = 60
)",
                              config);
  REQUIRE(formatted(problems).empty());
  REQUIRE(config.mounts.size() == 2);  // the file's [mounts] replace what was there
  const MountSettings& live = config.mounts.at("/live.ts");
  CHECK(live.source_password == "only-live");
  CHECK(live.burst_bytes == 256u * 1024);
  CHECK(live.ring_bytes == 16u << 20);
  CHECK(live.latency_budget_ms == 200u);
  CHECK(live.max_viewers == 20u);
  CHECK(live.content_type == "video/mp2t");
  CHECK(live.hls_segment_ms == 4000u);
  const MountSettings& jazz = config.mounts.at("/radio/jazz.mp3");
  CHECK(jazz.max_viewers == 0u);
  CHECK_FALSE(jazz.source_password);
  CHECK_FALSE(jazz.burst_bytes);
  CHECK_FALSE(jazz.ring_bytes);
  CHECK(jazz.ring_seconds == 60u);
  CHECK_FALSE(jazz.latency_budget_ms);
  CHECK_FALSE(jazz.content_type);
  CHECK_FALSE(jazz.hls_segment_ms);
}

TEST_CASE("an unknown config key is reported at its line with the nearest name", "[config]") {
  RelayConfig config;
  const auto problems = formatted(parse("listen = \":8000\"\n\nring-size = \"4MiB\"\n", config));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "test.toml:3:1: unknown key 'ring-size' (did you mean 'ring_size'?)");

  SECTION("a name far from every key gets no guess") {
    const auto far = formatted(parse("colour = 1\n", config));
    REQUIRE(far.size() == 1);
    CHECK(far[0] == "test.toml:1:1: unknown key 'colour'");
  }
  SECTION("a per-mount key at the top level says where it belongs") {
    const auto misplaced = formatted(parse("content_type = \"audio/mpeg\"\n", config));
    REQUIRE(misplaced.size() == 1);
    CHECK(mentions(misplaced[0], "per-mount key"));
  }
  SECTION("a relay-wide key below a mount header says that it landed in the section") {
    const auto misplaced =
        formatted(parse("[mounts.\"/a.mp3\"]\nmax_viewers = 3\ngrace = 2\n", config));
    REQUIRE(misplaced.size() == 1);
    CHECK(mentions(misplaced[0], "test.toml:3:1: unknown key 'grace' in [mounts.\"/a.mp3\"]"));
    CHECK(mentions(misplaced[0], "above the first [section]"));
  }
  SECTION("a misspelt per-mount key is guessed among the per-mount keys") {
    const auto misspelt = formatted(parse("[mounts.\"/a.mp3\"]\nmax_viewrs = 3\n", config));
    REQUIRE(misspelt.size() == 1);
    CHECK(mentions(misspelt[0], "test.toml:2:1:"));
    CHECK(mentions(misspelt[0], "(did you mean 'max_viewers'?)"));
  }
}

TEST_CASE("a config value of the wrong type is reported at the value", "[config]") {
  RelayConfig config;
  const auto problems = formatted(parse("workers = 2\nburst = true\n", config));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] ==
        "test.toml:2:9: burst: expected a size (an integer, or a string such as \"64KiB\"), got "
        "a boolean");
  const auto text_for_number = formatted(parse("workers = \"4\"\n", config));
  REQUIRE(text_for_number.size() == 1);
  CHECK(text_for_number[0] == "test.toml:1:11: workers: expected an integer, got a string");
}

TEST_CASE("config values out of range are reported", "[config]") {
  RelayConfig config;
  const auto problems = formatted(parse(R"(workers = 0
grace = -1
ring_size = "2TiB"
max_write_bytes = 0
slow_viewer = "drop"
log_level = "verbose"
stats_access = "closed"
listen = "localhost:8000"
admin_listen = "127.0.0.1:70000"
burst = "lots"
max_write_delay = 5000000000
head_timeout = nan
)",
                                        config));
  REQUIRE(problems.size() == 12);
  CHECK(mentions(problems[0], "test.toml:1:11: workers: must be at least 1"));
  CHECK(mentions(problems[1], "test.toml:2:9: grace:"));
  CHECK(mentions(problems[2], "test.toml:3:13: ring_size: must be at most 1099511627776"));
  CHECK(mentions(problems[3], "test.toml:4:19: max_write_bytes: must be at least 1"));
  CHECK(mentions(problems[4], "slow_viewer: \"drop\" is not one of \"skip\", \"disconnect\""));
  CHECK(mentions(problems[5], "log_level: \"verbose\" is not one of"));
  CHECK(mentions(problems[6], "stats_access: \"closed\" is not one of"));
  CHECK(mentions(problems[7], "test.toml:8:10: listen: \"localhost:8000\" is not HOST:PORT"));
  CHECK(mentions(problems[8], "test.toml:9:16: admin_listen:"));
  CHECK(mentions(problems[9], "burst: \"lots\" is not a size"));
  CHECK(mentions(problems[10], "max_write_delay: must be at most 4294967295"));
  CHECK(mentions(problems[11], "test.toml:12:16: head_timeout:"));
}

TEST_CASE("bad mount names and bad per-mount values are reported", "[config]") {
  RelayConfig config;
  const auto problems = formatted(parse(R"([mounts."/a b"]
max_viewers = 1

[mounts."/../etc"]

[mounts."/x.ts"]
source_password = ""
content_type = "video/mp2t\r\nX-Injected: 1"
max_viewers = -1

[mounts]
"/y.ts" = 3
)",
                                        config));
  REQUIRE(problems.size() == 6);
  CHECK(mentions(problems[0], "test.toml:1:9: [mounts.\"/a b\"]: mount name has a character"));
  CHECK(mentions(problems[1], "test.toml:4:9: [mounts.\"/../etc\"]: mount name contains .."));
  CHECK(mentions(problems[2], "test.toml:7:19: source_password: must not be empty"));
  CHECK(mentions(problems[3], "test.toml:8:16: content_type: must be non-empty printable ASCII"));
  CHECK(mentions(problems[4], "test.toml:9:15: max_viewers: must be at least 0"));
  CHECK(mentions(problems[5],
                 "test.toml:12:11: [mounts.\"/y.ts\"]: expected a table, got an integer"));

  const auto not_a_table = formatted(parse("mounts = \"/live.ts\"\n", config));
  REQUIRE(not_a_table.size() == 1);
  CHECK(mentions(not_a_table[0], "test.toml:1:10: mounts: expected sections"));
}

TEST_CASE("a TOML syntax error is reported at its line and column", "[config]") {
  RelayConfig config;
  const auto problems = parse("listen = \":8000\"\nburst = \n", config);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].line == 2);
  CHECK(problems[0].column == 9);
  CHECK_FALSE(problems[0].message.empty());
}

TEST_CASE("every config problem is reported at once, in file order", "[config]") {
  RelayConfig config;
  const auto problems = parse(R"([mounts."/bad name"]
max_viewers = "many"

[mounts."/good.ts"]
burst = "64k"
)",
                              config);
  // Table sections come out of toml++ sorted by name; the report follows the file.
  const auto lines = formatted(problems);
  REQUIRE(lines.size() == 2);
  CHECK(problems[0].line == 1);
  CHECK(problems[1].line == 2);
  const auto unknown = parse("zzz = 1\nworkers = 0\naaa = 2\n", config);
  REQUIRE(unknown.size() == 3);
  CHECK(unknown[0].line == 1);
  CHECK(unknown[1].line == 2);
  CHECK(unknown[2].line == 3);
}

TEST_CASE("a config with any problem leaves the configuration untouched", "[config]") {
  RelayConfig config;
  config.mounts["/kept.ts"].max_viewers = 5;
  const RelayConfig before = config;
  const auto problems = parse(R"(listen = "0.0.0.0:9999"
burst = "1MiB"
workers = 0

[mounts."/new.ts"]
max_viewers = 1
)",
                              config);
  REQUIRE(problems.size() == 1);
  CHECK(config.listen_host == before.listen_host);
  CHECK(config.listen_port == before.listen_port);
  CHECK(config.fanout.burst_bytes == before.fanout.burst_bytes);
  CHECK(config.workers == before.workers);
  REQUIRE(config.mounts.size() == 1);
  CHECK(config.mounts.at("/kept.ts").max_viewers == 5u);

  REQUIRE(parse("burst = \n", config).size() == 1);
  CHECK(config.fanout.burst_bytes == before.fanout.burst_bytes);
}

TEST_CASE("a config file that cannot be read is one problem without a location", "[config]") {
  RelayConfig config;
  const auto problems = load_config_file("/nonexistent/ringcast.toml", config);
  REQUIRE(problems.size() == 1);
  CHECK(format_problem("/nonexistent/ringcast.toml", problems[0]) ==
        "/nonexistent/ringcast.toml: cannot read: No such file or directory");
}

TEST_CASE("listen addresses: HOST:PORT, [IPv6]:PORT and :PORT for all interfaces", "[config]") {
  std::string host = "unchanged";
  std::uint16_t port = 1;
  CHECK(parse_listen_address("127.0.0.1:8000", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 8000);
  CHECK(parse_listen_address("[::1]:9000", host, port));
  CHECK(host == "::1");
  CHECK(port == 9000);
  CHECK(parse_listen_address("[::]:0", host, port));
  CHECK(host == "::");
  CHECK(port == 0);
  CHECK(parse_listen_address(":65535", host, port));
  CHECK(host == "0.0.0.0");
  CHECK(port == 65535);

  for (const char* bad : {"", "8000", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "127.0.0.1: 80", "localhost:8000", "::1:8000",
                          "[::1:8000", "[]:8000", "[127.0.0.1]:80", "1.2.3:80"}) {
    CAPTURE(bad);
    host = "unchanged";
    port = 1;
    CHECK_FALSE(parse_listen_address(bad, host, port));
    CHECK(host == "unchanged");
    CHECK(port == 1);
  }

  CHECK(format_listen_address("127.0.0.1", 8000) == "127.0.0.1:8000");
  CHECK(format_listen_address("::1", 8000) == "[::1]:8000");
}

TEST_CASE("config problems print as path:line:column: message", "[config]") {
  CHECK(format_problem("a.toml", {3, 7, "burst: bad"}) == "a.toml:3:7: burst: bad");
  CHECK(format_problem("a.toml", {0, 0, "cannot open"}) == "a.toml: cannot open");
}

TEST_CASE("radio keys: ICY interval, fallback, hidden and authentication, per mount", "[config]") {
  char path[] = "/tmp/ringcast-users-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string users = "alice:5f4dcc3b5aa765d61d8327deb882cf99\n";
  REQUIRE(::write(fd, users.data(), users.size()) == static_cast<ssize_t>(users.size()));
  ::close(fd);
  RelayConfig config;
  const auto problems = parse("icy_metaint = 8192\n"
                              "[mounts.\"/radio.mp3\"]\n"
                              "icy_metaint = 0\nhidden = true\nfallback_mount = \"/autodj.mp3\"\n"
                              "fallback_override = true\nlistener_users_file = \"" + std::string(path) + "\"\n"
                              "listener_add_url = \"http://127.0.0.1:9/auth\"\nauth_timeout = 2.5\n"
                              "stream_name = \"Radio Café\"\ngenre = \"Jazz\"\nbitrate = 128\npublic = false\n"
                              "charset = \"ISO-8859-1\"\nfallback_when_full = true\n",
                              config);
  ::unlink(path);
  REQUIRE(formatted(problems).empty());
  CHECK(config.icy_metaint == 8192u);
  const MountSettings& radio = config.mounts.at("/radio.mp3");
  CHECK(radio.icy_metaint == 0u);
  CHECK(radio.hidden == true);
  CHECK(radio.fallback_mount == "/autodj.mp3");
  CHECK(radio.fallback_override);
  REQUIRE(radio.listener_users != nullptr);
  CHECK(radio.listener_auth());
  CHECK(radio.listener_add_url == "http://127.0.0.1:9/auth");
  CHECK(radio.auth_timeout_ms == 2500u);
  CHECK(radio.stream_name == "Radio Café");
  CHECK(radio.stream_genre == "Jazz");
  CHECK(radio.stream_bitrate == 128u);
  CHECK(radio.stream_public == false);
  CHECK(radio.charset == "ISO-8859-1");
  CHECK(radio.fallback_when_full);

  SECTION("a fallback loop, a bad ICY interval, a non-http URL and a missing users file are refused") {
    RelayConfig other;
    const auto refused = formatted(parse("icy_metaint = 100\n"
                                         "[mounts.\"/a\"]\nfallback_mount = \"/b\"\nstream_auth_url = \"ftp://x\"\n"
                                         "[mounts.\"/b\"]\nfallback_mount = \"/a\"\n"
                                         "listener_users_file = \"/nonexistent/users\"\n"
                                         "charset = \"windows-1251\"\nstream_name = \"a\\r\\nX-Injected: 1\"\n",
                                         other));
    REQUIRE(refused.size() == 6);
    const auto has = [&](std::string_view text) {
      return std::any_of(refused.begin(), refused.end(), [&](const std::string& p) { return p.find(text) != std::string::npos; });
    };
    CHECK(has("icy_metaint: must be 0 (off) or at least 256"));
    CHECK(has("fallback_mount loops: /a -> /b -> /a"));
    CHECK(has("is not an http:// or https:// URL"));
    CHECK(has("listener_users_file /nonexistent/users: cannot read"));
    CHECK(has("charset: \"windows-1251\" is neither UTF-8 nor ISO-8859-1"));
    CHECK(has("stream_name: must be non-empty text without control characters"));

    RelayConfig listed;
    const auto bad_list = formatted(parse("ready_mounts = [\"radio\", 3]\n", listed));
    REQUIRE(bad_list.size() == 1);
    CHECK(mentions(bad_list[0], "ready_mounts: \"radio\" is not a mount name"));
    const auto bad_network = formatted(parse("trusted_proxies = [\"10.0.0.0/33\"]\n", listed));
    REQUIRE(bad_network.size() == 1);
    CHECK(mentions(bad_network[0], "test.toml:1:19: trusted_proxies: prefix length too long in '10.0.0.0/33'"));
    const auto untrusting = formatted(parse("proxy_protocol = true\n", listed));
    REQUIRE(untrusting.size() == 1);
    CHECK(mentions(untrusting[0], "proxy_protocol needs trusted_proxies"));
  }
}

TEST_CASE("relay-tree keys: origins, linger, and static relays", "[config]") {
  RelayConfig config;
  REQUIRE(parse(R"(
relay_origins = ["http://10.0.0.1:8000", "http://relay:pw@10.0.0.2:8000/prefix"]
relay_linger = 30
relay_retry_preferred = 0

[[relays]]
url = "http://relay:secret@origin:8000/radio.mp3"

[[relays]]
url = "http://origin:8000/live.ts"
mount = "/mirror.ts"
on_demand = true
)",
              config)
              .empty());
  CHECK(config.relay_origins.size() == 2);
  CHECK(config.relay_linger_ms == 30'000);
  CHECK(config.relay_retry_preferred_ms == 0);
  REQUIRE(config.relays.size() == 2);
  CHECK(config.relays[0].mount == "/radio.mp3");  // the remote mount's name by default
  CHECK_FALSE(config.relays[0].on_demand);
  CHECK(config.relays[1].mount == "/mirror.ts");
  CHECK(config.relays[1].on_demand);

  const auto problems = formatted(parse(R"([[relays]]
url = "http://origin:8000"

[[relays]]
mount = "/x.mp3"

[[relays]]
url = "http://origin:8000/a.mp3"
[[relays]]
url = "http://other:8000/a.mp3"
ondemand = true
)",
                                        config));
  for (const auto& problem : problems) UNSCOPED_INFO(problem);
  REQUIRE(problems.size() == 4);
  CHECK(mentions(problems[0], "test.toml:2:7: url: \"http://origin:8000\" names no mount"));
  CHECK(mentions(problems[1], "url is required"));
  CHECK(mentions(problems[2], "/a.mp3 is relayed twice"));
  CHECK(mentions(problems[3], "unknown key 'ondemand' in [[relays]] (did you mean 'on_demand'?)"));
  CHECK(formatted(parse("relay_origins = [\"https://o:8000\"]\n", config)).size() == 1);
}

TEST_CASE("a [master] section: the master's address, its interval, on demand or not", "[config]") {
  RelayConfig config;
  REQUIRE(parse("[master]\nurl = \"http://relay:pw@10.0.0.1:8000\"\nupdate_interval = 30\n", config).empty());
  REQUIRE(config.master);
  CHECK(config.master->url == "http://relay:pw@10.0.0.1:8000");
  CHECK(config.master->update_interval_ms == 30'000);
  CHECK_FALSE(config.master->on_demand);

  RelayConfig other;
  auto problems = formatted(parse("[master]\nurl = \"http://m:8000/radio.mp3\"\n", other));
  REQUIRE(problems.size() == 1);
  CHECK(mentions(problems[0], "without a path"));
  problems = formatted(parse("[master]\nupdate_interval = 0.5\nurl = \"http://m:8000\"\nondemand = true\n", other));
  REQUIRE(problems.size() == 2);
  CHECK(mentions(problems[0], "update_interval must be at least 1 second"));
  CHECK(mentions(problems[1], "did you mean 'on_demand'?"));
  CHECK(mentions(formatted(parse("[master]\non_demand = true\n", other)).at(0), "url is required"));
  CHECK_FALSE(other.master);
}
