// The flags, with CLI11. The config file is read first and its values become the flags'
// defaults, so a flag left out keeps the file's value and a flag given replaces it.
#include "ringcast/app/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <string_view>
#include <thread>

#include "ringcast/edge/edge.h"
#include "ringcast/http/forwarded.h"
#include "ringcast/config/icecast_config.h"
#include "ringcast/core/version.h"

namespace ringcast::relay {

namespace {

constexpr std::size_t kMaxSize = std::numeric_limits<std::size_t>::max();

struct ConfigFlag {
  std::string path;
  bool check_only = false;
  bool convert = false;  // --convert-icecast-config
};

// The file has to be read before the flags are declared (its values are their defaults), so
// --config and --check-config are found ahead of CLI11, which checks them again later.
std::optional<ConfigFlag> find_config_flag(int argc, const char* const* argv) {
  std::optional<ConfigFlag> found;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    struct Kind {
      std::string_view flag;
      bool check_only, convert;
    };
    for (const auto& [flag, check_only, convert] :
         {Kind{"--config", false, false}, Kind{"--check-config", true, false}, Kind{"--icecast-config", false, false},
          Kind{"--convert-icecast-config", true, true}}) {
      if (arg == flag && i + 1 < argc) {
        found = ConfigFlag{argv[i + 1], check_only, convert};
      } else if (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '=') {
        found = ConfigFlag{std::string(arg.substr(flag.size() + 1)), check_only, convert};
      }
    }
  }
  return found;
}

// Sizes read as the config file reads them, handed on to CLI11 as plain byte counts.
CLI::Validator size_transform() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        const auto bytes = parse_size(input);
        if (!bytes)
          return "'" + input + "' is not a size (an integer with an optional unit: k, KiB, M, MiB)";
        input = std::to_string(*bytes);
        return {};
      },
      "", "size");
}

CLI::Validator address_check() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        std::string host;
        std::uint16_t port = 0;
        if (parse_listen_address(input, host, port)) return {};
        return "'" + input + "' is not HOST:PORT (IPv4, [IPv6] or nothing for all interfaces)";
      },
      "", "address");
}

template <typename Choice, std::size_t N>
std::vector<std::string> names(const ChoiceName<Choice> (&choices)[N]) {
  std::vector<std::string> all;
  for (const auto& choice : choices) all.emplace_back(choice.name);
  return all;
}

template <typename Choice, std::size_t N>
std::string name_of(Choice value, const ChoiceName<Choice> (&choices)[N]) {
  for (const auto& choice : choices) {
    if (choice.value == value) return std::string(choice.name);
  }
  return {};
}

// `name` has passed CLI::IsMember(names(choices)).
template <typename Choice, std::size_t N>
Choice value_of(const std::string& name, const ChoiceName<Choice> (&choices)[N]) {
  for (const auto& choice : choices) {
    if (choice.name == name) return choice.value;
  }
  return choices[0].value;
}

double seconds(std::uint32_t ms) {
  return ms / 1000.0;
}
std::uint32_t milliseconds(double seconds) {
  return static_cast<std::uint32_t>(std::llround(seconds * 1000));
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine result;
  RelayConfig& config = result.config;
  if (const auto flag = find_config_flag(argc, argv)) {
    result.config_path = flag->path;
    result.check_only = flag->check_only;
    if (flag->convert) {
      std::string text;
      std::ifstream in(flag->path, std::ios::binary);
      if (!in) {
        result.problems = {{0, 0, "cannot read it"}};
      } else {
        text.assign(std::istreambuf_iterator<char>(in), {});
        IcecastConversion converted = convert_icecast_config(text);
        result.problems = std::move(converted.errors);
        result.notes = std::move(converted.unsupported);
        if (result.problems.empty()) result.converted = std::move(converted.toml);
      }
      result.exit_code = result.problems.empty() ? 0 : 1;
      return result;
    }
    result.problems = load_config_file(result.config_path, config, &result.notes);
  }

  CLI::App app{"ringcast: a live broadcast relay (Icecast-compatible HTTP/1.x)", "ringcast"};
  app.set_version_flag("--version", std::string("ringcast ") + kVersion);
  auto& fanout = config.fanout;
  std::string listen = format_listen_address(config.listen_host, config.listen_port);
  std::string admin_listen =
      config.admin_listen_host.empty()
          ? ""
          : format_listen_address(config.admin_listen_host, config.admin_listen_port);
  std::string stats_access = name_of(config.stats_access, kStatsAccessNames);
  std::string slow_viewer = name_of(fanout.slow_action, kSlowViewerNames);
  double grace_seconds = seconds(config.grace_ms);
  double drain_seconds = seconds(config.drain_ms);
  double relay_linger_seconds = seconds(config.relay_linger_ms);
  double relay_retry_preferred_seconds = seconds(config.relay_retry_preferred_ms);
  double source_timeout_seconds = seconds(config.source_idle_timeout_ms);
  double head_timeout_seconds = seconds(config.head_timeout_ms);
  double viewer_stall_seconds = seconds(config.viewer_stall_timeout_ms);
  std::uint32_t hls_segment_seconds = fanout.hls_segment_ms / 1000;
  std::string config_path;
  const auto size = size_transform();
  const auto address = address_check();
  const auto duration = CLI::Range(0.0, kMaxSeconds).description("");
  const auto positive = CLI::Range(std::size_t{1}, kMaxSize).description("");

  auto* config_option = app.add_option("--config", config_path,
                                       "TOML file of settings; flags given as well override it")
                            ->type_name("FILE");
  app.add_option("--icecast-config", config_path,
                 "an Icecast 2.4 icecast.xml to run as it is (what ringcast does not do is listed at start)")
      ->type_name("FILE")
      ->excludes(config_option);
  app.add_option("--convert-icecast-config", config_path,
                 "print an icecast.xml as ringcast's TOML config, and what it leaves out; start nothing")
      ->type_name("FILE");
  app.add_option("--check-config", config_path,
                 "check a TOML config file (and the flags), print what is wrong, start nothing")
      ->type_name("FILE")
      ->excludes(config_option);
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->check(address)
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_option("--source-password", config.source_password,
                 "password of user 'source' for PUT/SOURCE (default: generated and printed)")
      ->envname("RINGCAST_SOURCE_PASSWORD");
  app.add_option("--admin-password", config.admin_password,
                 "password of the admin endpoints (default: none, they answer 403)")
      ->envname("RINGCAST_ADMIN_PASSWORD");
  app.add_option("--relay-password", config.relay_password,
                 "password of the relay user (--relay-user) for /admin/streamlist.txt, as Icecast "
                 "slaves read it (default: none, only the admin may)")
      ->envname("RINGCAST_RELAY_PASSWORD");
  app.add_option("--relay-user", config.relay_user, "user name Icecast slaves send")->capture_default_str();
  app.add_option("--admin-user", config.admin_user, "user name of the admin endpoints")->capture_default_str();
  app.add_option("--realm", config.realm, "Basic realm of every authentication challenge")
      ->capture_default_str();
  app.add_flag("--proxy-protocol", config.proxy_protocol,
               "every connection to --listen starts with a PROXY protocol header (v1 or v2) from a "
               "--trusted-proxy (haproxy send-proxy); others are closed");
  app.add_option("--trusted-proxy", config.trusted_proxies,
                 "an address or network (10.0.0.0/8) whose PROXY headers, X-Forwarded-For and "
                 "Forwarded are believed; repeat for more")
      ->type_name("CIDR")
      ->check([](const std::string& entry) {
        std::string error;
        return AddressSet::parse({entry}, &error) ? std::string() : error;
      });
  app.add_option("--relay-origin", config.relay_origins,
                 "http://HOST:PORT[/PREFIX] of an origin: a listener's request for a mount this relay "
                 "lacks is pulled from it and served here (an edge); repeat for more, most preferred first")
      ->type_name("URL")
      ->check([](const std::string& entry) {
        std::string error;
        return parse_origin_url(entry, &error) ? std::string() : error;
      });
  app.add_option("--relay-linger", relay_linger_seconds,
                 "seconds an edge keeps pulling a mount after its last listener left")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--relay-retry-preferred", relay_retry_preferred_seconds,
                 "seconds between an edge's tries of its preferred origins while a later one feeds a "
                 "mount; the first that serves takes the feed back (0: never)")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--admin-listen", admin_listen,
                 "HOST:PORT of a second listener for admin and stats (default: none)")
      ->check(address)
      ->type_name("HOST:PORT");
  app.add_option("--stats-access", stats_access, "who may read /stats, /metrics and the dashboard")
      ->check(CLI::IsMember(names(kStatsAccessNames)))
      ->capture_default_str();
  app.add_option("--access-log", config.access_log,
                 "file to append one line per request to ('-': stdout; default: none)")
      ->type_name("FILE");
  // 0 in the settings means "the default", which is not one number: no captured default.
  app.add_option("--burst", fanout.burst_bytes,
                 "bytes a new viewer gets from before the live edge (default: 64 KiB, at most a "
                 "quarter of the ring; MPEG-TS video joins the newest keyframe within a quarter ring)")
      ->transform(size)
      ->type_name("SIZE");
  app.add_option("--ring-size", config.ring_bytes,
                 "ring bytes per mount, rounded up to a power of two (default: by --ring-seconds)")
      ->transform(size)
      ->type_name("SIZE")
      ->check(CLI::Range(std::size_t{1}, kMaxRingBytes).description(""));
  app.add_option("--ring-seconds", config.ring_seconds,
                 "a mount's ring holds this long of its stream, at the rate the source declares "
                 "(ice-bitrate) or guesses by content type (audio: 320 kbit/s, else 3.2 Mbit/s); "
                 "default 10, and 30 for MPEG-TS, whose timeshift and HLS window is half the ring")
      ->check(CLI::Range(1, 3600));
  app.add_option("--hls-segment-seconds", hls_segment_seconds,
                 "HLS segments of MPEG-TS mounts are at least this long, cut at keyframes")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  app.add_option("--grace", grace_seconds, "seconds viewers wait for a dropped source to return")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--drain", drain_seconds,
                 "on SIGTERM, seconds the present listeners keep listening while new ones get 503 "
                 "and /health 503 (0: stop at once; SIGINT always stops at once)")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--source-timeout", source_timeout_seconds,
                 "seconds a source may send nothing before it is dropped")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--head-timeout", head_timeout_seconds,
                 "seconds a client has to send its request head (then 408)")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--max-head-bytes", config.max_head_bytes, "largest request head (then 431)")
      ->transform(size)
      ->type_name("SIZE")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--max-write-bytes", fanout.max_write_bytes, "most bytes in one write to a viewer")
      ->transform(size)
      ->type_name("SIZE")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--coalesce-bytes", fanout.coalesce_bytes,
                 "writes to viewers aim at this size, at the stream's measured rate")
      ->transform(size)
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_option("--latency-budget,--max-write-delay", fanout.latency_budget_ms,
                 "longest (ms) a byte waits to be coalesced, at full audience")
      ->capture_default_str();
  app.add_option("--full-delay-audience", fanout.full_delay_audience,
                 "viewers on a loop from which --coalesce-bytes and --latency-budget apply in full "
                 "(scaled below it)")
      ->capture_default_str();
  app.add_option("--max-lag", fanout.max_lag_bytes,
                 "a viewer further behind the live edge is slow (default: half the ring)")
      ->transform(size)
      ->type_name("SIZE");
  app.add_option("--slow-viewer", slow_viewer, "what happens to a slow viewer")
      ->check(CLI::IsMember(names(kSlowViewerNames)))
      ->capture_default_str();
  app.add_option("--workers", config.workers, "event loops serving connections")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections,
                 "open connections at most, then 503 (default: the descriptor limit minus 64)");
  app.add_option("--max-viewers-per-mount", config.max_viewers_per_mount,
                 "viewers of one mount at most, then 503 (0: no limit)")
      ->capture_default_str();
  app.add_option("--max-mounts", config.max_mounts,
                 "mounts at most; a source for one more gets 503")
      ->capture_default_str();
  app.add_option("--icy-metaint", config.icy_metaint,
                 "stream bytes between ICY metadata blocks for listeners that ask (0: never)")
      ->check(CLI::Range(0u, kMaxIcyMetaint) &
              CLI::Validator(
                  [](std::string& value) -> std::string {
                    const long n = std::stol(value);
                    return n == 0 || n >= kMinIcyMetaint
                               ? ""
                               : "0 (off) or at least " + std::to_string(kMinIcyMetaint);
                  },
                  "0 or >= 256"))
      ->capture_default_str();
  app.add_option("--viewer-stall-timeout", viewer_stall_seconds,
                 "seconds a viewer's socket may take nothing before it is closed")
      ->check(duration)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    result.exit_code = app.exit(error);
    return result;
  }

  // Each was checked by its validator above.
  parse_listen_address(listen, config.listen_host, config.listen_port);
  if (!admin_listen.empty()) {
    parse_listen_address(admin_listen, config.admin_listen_host, config.admin_listen_port);
  }
  config.stats_access = value_of(stats_access, kStatsAccessNames);
  fanout.slow_action = value_of(slow_viewer, kSlowViewerNames);
  config.grace_ms = milliseconds(grace_seconds);
  config.drain_ms = milliseconds(drain_seconds);
  config.relay_linger_ms = milliseconds(relay_linger_seconds);
  config.relay_retry_preferred_ms = milliseconds(relay_retry_preferred_seconds);
  config.source_idle_timeout_ms = milliseconds(source_timeout_seconds);
  config.head_timeout_ms = milliseconds(head_timeout_seconds);
  config.viewer_stall_timeout_ms = milliseconds(viewer_stall_seconds);
  fanout.hls_segment_ms = hls_segment_seconds * 1000;
  if (const auto problem = proxy_settings_problem(config); problem && result.problems.empty()) {
    std::fprintf(stderr, "%s\nRun with --help for more information.\n", problem->c_str());
    result.exit_code = 2;
  }
  return result;
}

ConfigReloader::ConfigReloader(int argc, const char* const* argv, const RelayConfig& started)
    : args_(argv, argv + argc),
      source_password_(started.source_password),
      max_connections_(started.max_connections) {}

bool ConfigReloader::reload(RelayConfig& fresh, std::string& error) const {
  std::vector<const char*> argv;
  for (const auto& arg : args_) argv.push_back(arg.c_str());
  CommandLine command_line = parse_command_line(static_cast<int>(argv.size()), argv.data());
  if (!command_line.problems.empty()) {
    error.clear();
    for (const auto& problem : command_line.problems) {
      error += (error.empty() ? "" : "\n") + format_problem(command_line.config_path, problem);
    }
    return false;
  }
  if (command_line.exit_code) {
    // The flags parsed at start; only a changed environment variable can get here.
    error = "the command line no longer parses";
    return false;
  }
  RelayConfig& config = command_line.config;
  if (config.source_password.empty()) config.source_password = source_password_;
  if (config.max_connections == 0) config.max_connections = max_connections_;
  fresh = std::move(config);
  return true;
}

}  // namespace ringcast::relay
