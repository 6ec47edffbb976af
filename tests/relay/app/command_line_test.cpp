#include "ringcast/app/command_line.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace ringcast::relay;

namespace {

// A config file in the temporary directory, removed at the end of the test.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("ringcast-test-" + std::to_string(::getpid()) + "-" + std::to_string(next_++) +
               ".toml")) {
    write(text);
  }
  ~TempConfig() { std::filesystem::remove(path_); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;

  void write(const std::string& text) const { std::ofstream(path_) << text; }
  std::string path() const { return path_.string(); }

 private:
  static inline int next_ = 0;
  std::filesystem::path path_;
};

// argv as main() gets it, with the program name first.
class Args {
 public:
  Args(std::initializer_list<std::string> args) : strings_{"ringcast"} {
    strings_.insert(strings_.end(), args.begin(), args.end());
    for (const auto& arg : strings_) pointers_.push_back(arg.c_str());
  }
  int argc() const { return static_cast<int>(pointers_.size()); }
  const char* const* argv() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<const char*> pointers_;
};

CommandLine parse(const Args& args) {
  return parse_command_line(args.argc(), args.argv());
}

// Sets an environment variable for the length of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

const char* const kFile = R"(
listen = "0.0.0.0:9000"
source_password = "from-file"
admin_password = "admin-from-file"
burst = "128KiB"
grace = 1.234
workers = 3
slow_viewer = "disconnect"
stats_access = "password"

[mounts."/live.ts"]
max_viewers = 10
)";

}  // namespace

TEST_CASE("without --config the flags apply over the defaults", "[config][command_line]") {
  const auto command_line = parse({"--listen", "[::1]:0", "--burst", "32k", "--grace", "2.5", "--drain", "20",
                                   "--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
                                   "--stats-access", "admin-listener", "--admin-listen", ":8001",
                                   "--access-log", "-", "--log-level", "warn"});
  REQUIRE_FALSE(command_line.exit_code);
  CHECK(command_line.config_path.empty());
  const RelayConfig& config = command_line.config;
  CHECK(config.listen_host == "::1");
  CHECK(config.listen_port == 0);
  CHECK(config.fanout.burst_bytes == 32 * 1024);
  CHECK(config.grace_ms == 2500);
  CHECK(config.drain_ms == 20'000);
  CHECK(config.proxy_protocol);
  CHECK(config.trusted_proxies == std::vector<std::string>{"10.0.0.0/8", "::1"});
  CHECK(config.stats_access == StatsAccess::admin_listener);
  CHECK(config.admin_listen_host == "0.0.0.0");
  CHECK(config.admin_listen_port == 8001);
  CHECK(config.access_log == "-");
  CHECK(config.log_level == "warn");
  CHECK(config.workers >= 1);
  CHECK(config.source_password.empty());  // generated later, by main
}

TEST_CASE("values from --config apply where no flag is given", "[config][command_line]") {
  const TempConfig file(kFile);
  for (const auto& args : {Args{"--config", file.path()}, Args{"--config=" + file.path()}}) {
    const auto command_line = parse(args);
    REQUIRE_FALSE(command_line.exit_code);
    REQUIRE(command_line.problems.empty());
    CHECK(command_line.config_path == file.path());
    CHECK_FALSE(command_line.check_only);
    const RelayConfig& config = command_line.config;
    CHECK(config.listen_host == "0.0.0.0");
    CHECK(config.listen_port == 9000);
    CHECK(config.source_password == "from-file");
    CHECK(config.fanout.burst_bytes == 128 * 1024);
    CHECK(config.grace_ms == 1234);  // through the --grace default in seconds and back, exactly
    CHECK(config.workers == 3);
    CHECK(config.fanout.slow_action == SlowViewerAction::disconnect);
    CHECK(config.stats_access == StatsAccess::password);
    CHECK(config.mounts.at("/live.ts").max_viewers == 10u);
  }
}

TEST_CASE("flags given on the command line override the config file", "[config][command_line]") {
  const TempConfig file(kFile);
  const auto command_line = parse({"--listen", "127.0.0.1:7000", "--config", file.path(), "--burst",
                                   "1MiB", "--grace", "3", "--slow-viewer", "skip",
                                   "--source-password", "from-flag", "--stats-access", "open"});
  REQUIRE_FALSE(command_line.exit_code);
  REQUIRE(command_line.problems.empty());
  const RelayConfig& config = command_line.config;
  CHECK(config.listen_host == "127.0.0.1");
  CHECK(config.listen_port == 7000);
  CHECK(config.fanout.burst_bytes == 1024 * 1024);
  CHECK(config.grace_ms == 3000);
  CHECK(config.fanout.slow_action == SlowViewerAction::skip);
  CHECK(config.source_password == "from-flag");
  CHECK(config.stats_access == StatsAccess::open);
  CHECK(config.workers == 3);  // not given: the file's
  CHECK(config.admin_password == "admin-from-file");
}

TEST_CASE("password environment variables override the config file", "[config][command_line]") {
  const TempConfig file(kFile);
  const ScopedEnv source("RINGCAST_SOURCE_PASSWORD", "from-env");
  const ScopedEnv admin("RINGCAST_ADMIN_PASSWORD", "admin-from-env");
  const auto command_line = parse({"--config", file.path()});
  REQUIRE(command_line.problems.empty());
  CHECK(command_line.config.source_password == "from-env");
  CHECK(command_line.config.admin_password == "admin-from-env");
  // The flag still wins over the environment.
  CHECK(parse({"--config", file.path(), "--source-password", "flag"}).config.source_password ==
        "flag");
}

TEST_CASE("with --check-config the file is checked and nothing starts", "[config][command_line]") {
  const TempConfig file("workers = 0\nburst = true\n");
  const auto command_line = parse({"--check-config", file.path()});
  REQUIRE_FALSE(command_line.exit_code);
  CHECK(command_line.check_only);
  CHECK(command_line.config_path == file.path());
  REQUIRE(command_line.problems.size() == 2);
  CHECK(command_line.problems[0].line == 1);
  CHECK(command_line.problems[1].line == 2);
  CHECK(command_line.config.fanout.burst_bytes == FanoutSettings{}.burst_bytes);
}

TEST_CASE("bad flags stop with CLI11's exit status", "[config][command_line]") {
  CHECK(parse({"--listen", "localhost:80"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--burst", "4XB"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--ring-size", "2TiB"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--grace", "-1"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--stats-access", "closed"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--config", "a.toml", "--check-config", "b.toml"}).exit_code.value_or(0) != 0);
  // The size flags read units as the config file does.
  CHECK(parse({"--ring-size", "8 MiB"}).config.ring_bytes == 8u << 20);
}

TEST_CASE("the fan-out's flags: one loop, rings by time and a latency budget by default", "[command_line]") {
  const auto defaults = parse({}).config;
  CHECK(defaults.workers == 1);
  CHECK(defaults.ring_bytes == 0);  // sized by time
  CHECK(defaults.ring_seconds == 0);  // by content type: 10 s, 30 s for MPEG-TS
  CHECK(defaults.fanout.latency_budget_ms == 1000);
  CHECK(defaults.fanout.burst_bytes == 0);  // 64 KiB, and up to a quarter ring for keyframes
  CHECK(defaults.fanout.hls_segment_ms == 2000);
  CHECK(parse({"--hls-segment-seconds", "6"}).config.fanout.hls_segment_ms == 6000);
  CHECK(parse({"--hls-segment-seconds", "0"}).exit_code.value_or(0) != 0);
  CHECK(parse({"--latency-budget", "250"}).config.fanout.latency_budget_ms == 250);
  CHECK(parse({"--max-write-delay", "40"}).config.fanout.latency_budget_ms == 40);  // its old name
  CHECK(parse({"--ring-seconds", "120"}).config.ring_seconds == 120);
  CHECK(parse({"--ring-seconds", "0"}).exit_code.value_or(0) != 0);
}

TEST_CASE("a reload re-reads the config file, the command line keeping its precedence",
          "[config][command_line]") {
  TempConfig file(kFile);
  const Args args{"--config", file.path(), "--source-password", "from-flag", "--burst", "1k"};
  auto started = parse(args).config;
  started.max_connections = 4000;  // as main resolves it
  const ConfigReloader reloader(args.argc(), args.argv(), started);

  file.write(R"(
source_password = "changed-in-file"
admin_password = "new-admin"
burst = "2k"

[mounts."/other.ts"]
content_type = "video/mp2t"
)");
  RelayConfig fresh;
  std::string error;
  REQUIRE(reloader.reload(fresh, error));
  CHECK(error.empty());
  CHECK(fresh.source_password == "from-flag");
  CHECK(fresh.admin_password == "new-admin");
  CHECK(fresh.fanout.burst_bytes == 1024);
  CHECK(fresh.max_connections == 4000);
  REQUIRE(fresh.mounts.size() == 1);
  CHECK(fresh.mounts.at("/other.ts").content_type == "video/mp2t");

  SECTION("a broken file is refused with every problem located") {
    file.write("burst = true\n[mounts.\"/x y\"]\n");
    RelayConfig untouched;
    untouched.workers = 77;
    REQUIRE_FALSE(reloader.reload(untouched, error));
    CHECK(untouched.workers == 77);
    CHECK(error == file.path() +
                       ":1:9: burst: expected a size (an integer, or a string such as "
                       "\"64KiB\"), got a boolean\n" +
                       file.path() +
                       ":2:9: [mounts.\"/x y\"]: mount name has a character outside "
                       "[A-Za-z0-9._~-/]");
  }
}

TEST_CASE("a reload keeps the started password when neither file nor flags set one",
          "[config][command_line]") {
  TempConfig file("burst = \"2k\"\n");
  const Args args{"--config", file.path()};
  auto started = parse(args).config;
  started.source_password = "generated-at-start";
  const ConfigReloader reloader(args.argc(), args.argv(), started);
  RelayConfig fresh;
  std::string error;
  REQUIRE(reloader.reload(fresh, error));
  CHECK(fresh.source_password == "generated-at-start");
  file.write("source_password = \"now-in-file\"\n");
  REQUIRE(reloader.reload(fresh, error));
  CHECK(fresh.source_password == "now-in-file");
}
