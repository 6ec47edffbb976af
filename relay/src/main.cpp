// ringcast: flags in, one Server on one event loop, exit 0 on SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <random>
#include <string>

#include "ringcast/relay/config.h"
#include "ringcast/relay/relay.h"
#include <thread>
#include <sys/resource.h>
#include "ringcast/relay/version.h"

namespace {

using ringcast::relay::RelayConfig;
using ringcast::relay::SlowViewerAction;

std::string generate_password() {
  static constexpr std::string_view alphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device device;
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string password;
  for (int i = 0; i < 16; ++i) password += alphabet[pick(device)];
  return password;
}

bool parse_listen(const std::string& text, RelayConfig& config) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) return false;
    config.listen_port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return false;
  }
  config.listen_host = host.empty() ? "0.0.0.0" : host;
  return true;
}

void print_banner(const RelayConfig& config, std::uint16_t port, bool generated) {
  const std::string host = config.listen_host == "0.0.0.0" ? "127.0.0.1" : config.listen_host;
  const std::string base = host + ":" + std::to_string(port);
  std::printf(
      "ringcast %s relaying on http://%s/\n"
      "source password: %s%s\n\n"
      "push a test stream:\n"
      "  ffmpeg -re -f lavfi -i testsrc=size=640x360:rate=25 -f lavfi -i sine=frequency=440 \\\n"
      "    -c:v libx264 -preset veryfast -tune zerolatency -g 50 -c:a aac -f mpegts \\\n"
      "    -content_type video/mp2t icecast://source:%s@%s/live.ts\n"
      "watch it:\n"
      "  ffplay http://%s/live.ts      (or: mpv / vlc / curl -o out.ts the same URL)\n"
      "stats:\n"
      "  curl http://%s/stats\n\n",
      ringcast::relay::kVersion, base.c_str(), config.source_password.c_str(),
      generated ? " (generated; choose one with --source-password)" : "",
      config.source_password.c_str(), base.c_str(), base.c_str(), base.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  RelayConfig config;
  CLI::App app{"ringcast: a live broadcast relay (Icecast-compatible HTTP/1.x)", "ringcast"};
  app.set_version_flag("--version", std::string("ringcast ") + ringcast::relay::kVersion);
  std::string listen = "127.0.0.1:8000";
  std::string slow_viewer = "skip";
  std::string log_level = "info";
  double grace_seconds = config.grace_ms / 1000.0;
  double source_timeout_seconds = config.source_idle_timeout_ms / 1000.0;
  double head_timeout_seconds = config.head_timeout_ms / 1000.0;
  auto& fanout = config.fanout;

  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--source-password", config.source_password,
                 "password of user 'source' for PUT/SOURCE (default: generated and printed)")
      ->envname("RINGCAST_SOURCE_PASSWORD");
  app.add_option("--burst", fanout.burst_bytes, "bytes a new viewer gets from before the live edge")
      ->transform(CLI::AsSizeValue(false))->capture_default_str();
  app.add_option("--ring-size", config.ring_bytes, "ring bytes per mount (rounded up to a power of two)")
      ->transform(CLI::AsSizeValue(false))->capture_default_str();
  app.add_option("--grace", grace_seconds, "seconds viewers wait for a dropped source to return")
      ->capture_default_str();
  app.add_option("--source-timeout", source_timeout_seconds,
                 "seconds a source may send nothing before it is dropped")->capture_default_str();
  app.add_option("--head-timeout", head_timeout_seconds,
                 "seconds a client has to send its request head (then 408)")->capture_default_str();
  app.add_option("--max-head-bytes", config.max_head_bytes, "largest request head (then 431)")
      ->transform(CLI::AsSizeValue(false))->capture_default_str();
  app.add_option("--max-write-bytes", fanout.max_write_bytes, "most bytes in one write to a viewer")
      ->transform(CLI::AsSizeValue(false))->capture_default_str();
  app.add_option("--coalesce-bytes", fanout.coalesce_bytes,
                 "a viewer's pending bytes are written at once from this much")
      ->transform(CLI::AsSizeValue(false))->capture_default_str();
  app.add_option("--max-write-delay", fanout.max_delay_ms,
                 "longest (ms) a viewer's bytes may wait to be coalesced, at full audience")
      ->capture_default_str();
  app.add_option("--full-delay-audience", fanout.full_delay_audience,
                 "viewers from which --max-write-delay applies in full (scaled below it)")
      ->capture_default_str();
  app.add_option("--max-lag", fanout.max_lag_bytes,
                 "a viewer further behind the live edge is slow (default: half the ring)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--slow-viewer", slow_viewer, "what happens to a slow viewer")
      ->check(CLI::IsMember({"skip", "disconnect"}))->capture_default_str();
  config.workers = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--workers", config.workers, "event loops serving connections (default: CPUs)")
      ->check(CLI::Range(1, 256))->capture_default_str();
  double viewer_stall_seconds = config.viewer_stall_timeout_ms / 1000.0;
  app.add_option("--max-connections", config.max_connections,
                 "open connections at most, then 503 (default: the descriptor limit minus 64)");
  app.add_option("--max-viewers-per-mount", config.max_viewers_per_mount,
                 "viewers of one mount at most, then 503 (0: no limit)")->capture_default_str();
  app.add_option("--max-mounts", config.max_mounts, "mounts at most; a source for one more gets 503")
      ->capture_default_str();
  app.add_option("--viewer-stall-timeout", viewer_stall_seconds,
                 "seconds a viewer's socket may take nothing before it is closed")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!parse_listen(listen, config)) {
    std::fprintf(stderr, "ringcast: --listen wants HOST:PORT, got '%s'\n", listen.c_str());
    return 2;
  }
  config.grace_ms = static_cast<std::uint32_t>(grace_seconds * 1000);
  config.viewer_stall_timeout_ms = static_cast<std::uint32_t>(viewer_stall_seconds * 1000);
  // One descriptor per connection: take the hard limit, and keep 64 for everything else.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (config.max_connections == 0) {
    config.max_connections = files.rlim_cur > 128 ? files.rlim_cur - 64 : files.rlim_cur / 2;
  }
  config.source_idle_timeout_ms = static_cast<std::uint32_t>(source_timeout_seconds * 1000);
  config.head_timeout_ms = static_cast<std::uint32_t>(head_timeout_seconds * 1000);
  fanout.slow_action = slow_viewer == "disconnect" ? SlowViewerAction::disconnect : SlowViewerAction::skip;
  const bool generated = config.source_password.empty();
  if (generated) config.source_password = generate_password();

  auto logger = spdlog::stderr_color_mt("ringcast");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // A viewer that hangs up turns the next write into EPIPE, not a fatal SIGPIPE. Set before
  // any worker thread starts, so that every thread inherits it.
  std::signal(SIGPIPE, SIG_IGN);

  uv_loop_t* loop = uv_default_loop();
  int status = 0;
  {
    ringcast::relay::Relay relay(loop, config);
    if (const int rc = relay.start(); rc != 0) {
      spdlog::error("cannot listen on {}: {}", listen, uv_strerror(rc));
      status = 1;
    } else {
      print_banner(config, relay.bound_port(), generated);
      spdlog::info("listening on http://{}:{}/ with {} worker loop{}", config.listen_host,
                   relay.bound_port(), config.workers, config.workers == 1 ? "" : "s");
    }
    uv_run(loop, UV_RUN_DEFAULT);  // returns once every loop has shut down
  }
  if (const int rc = uv_loop_close(loop); rc != 0) {
    spdlog::warn("event loop closed with handles open: {}", uv_strerror(rc));
  }
  if (status == 0) spdlog::info("stopped");
  return status;
}
