// ringcast: flags and config file in, one Relay on its loops, exit 0 on SIGINT/SIGTERM.
#include <curl/curl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <random>
#include <string>

#include "ringcast/app/command_line.h"
#include "ringcast/core/config.h"
#include "ringcast/config/config_file.h"
#include "ringcast/net/relay.h"
#include "ringcast/uv/loop.h"
#include "ringcast/core/version.h"

namespace {

using ringcast::relay::ConfigReloader;
using ringcast::relay::RelayConfig;

std::string generate_password() {
  static constexpr std::string_view alphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device device;
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string password;
  for (int i = 0; i < 16; ++i) password += alphabet[pick(device)];
  return password;
}

// --check-config's answer when the file is good: what an operator would check first.
void print_check_summary(const std::string& path, const RelayConfig& config) {
  using ringcast::relay::format_listen_address;
  std::printf("%s: ok\n  listen %s", path.c_str(),
              format_listen_address(config.listen_host, config.listen_port).c_str());
  if (!config.admin_listen_host.empty()) {
    std::printf(", admin listener %s",
                format_listen_address(config.admin_listen_host, config.admin_listen_port).c_str());
  }
  std::printf("\n  mounts configured: %zu", config.mounts.size());
  for (const auto& [name, settings] : config.mounts) std::printf(" %s", name.c_str());
  std::printf("\n");
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
      "  ffplay http://%s/live.ts/index.m3u8      (HLS: phones, Safari, Chrome)\n"
      "  ffplay 'http://%s/live.ts?rewind=10'     (10 s behind live)\n"
      "stats:\n"
      "  curl http://%s/stats     (and the dashboard: http://%s/)\n\n",
      ringcast::relay::kVersion, base.c_str(), config.source_password.c_str(),
      generated ? " (generated; choose one with --source-password)" : "",
      config.source_password.c_str(), base.c_str(), base.c_str(), base.c_str(), base.c_str(),
      base.c_str(), base.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread: libcurl's global state (the url authenticator's HTTP client).
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const auto command_line = ringcast::relay::parse_command_line(argc, argv);
  for (const auto& problem : command_line.problems) {
    std::fprintf(stderr, "%s\n", format_problem(command_line.config_path, problem).c_str());
  }
  // An icecast.xml's elements that ringcast does not do: said once, with their lines.
  for (const auto& note : command_line.notes) {
    std::fprintf(stderr, "%s (left out)\n", format_problem(command_line.config_path, note).c_str());
  }
  if (command_line.converted) std::fputs(command_line.converted->c_str(), stdout);
  if (command_line.exit_code) return *command_line.exit_code;
  if (command_line.check_only) {
    if (!command_line.problems.empty()) return 1;
    print_check_summary(command_line.config_path, command_line.config);
    return 0;
  }
  if (!command_line.problems.empty()) return 2;

  RelayConfig config = command_line.config;
  // One descriptor per connection: take the hard limit, and keep 64 for everything else.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (config.max_connections == 0) {
    config.max_connections = files.rlim_cur > 128 ? files.rlim_cur - 64 : files.rlim_cur / 2;
  }
  const bool generated = config.source_password.empty();
  if (generated) config.source_password = generate_password();

  auto logger = spdlog::stderr_color_mt("ringcast");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // A viewer that hangs up turns the next write into EPIPE, not a fatal SIGPIPE. Set before
  // any worker thread starts, so that every thread inherits it.
  std::signal(SIGPIPE, SIG_IGN);

  ringcast::uv::Loop loop;
  if (const std::error_code error = loop.init()) {
    spdlog::error("cannot make an event loop: {}", error.message());
    return 1;
  }
  int status = 0;
  {
    ringcast::relay::Relay relay(loop.get(), config);
    // SIGHUP re-reads the config file, the flags keeping their precedence (the Relay applies
    // what can change live: mounts and passwords).
    if (!command_line.config_path.empty()) {
      const ConfigReloader reloader(argc, argv, config);
      relay.set_reloader([reloader](RelayConfig& fresh, std::string& error) {
        return reloader.reload(fresh, error);
      });
    }
    if (const std::error_code error = relay.start()) {
      spdlog::error("cannot start on {}: {}",
                    ringcast::relay::format_listen_address(config.listen_host, config.listen_port),
                    error.message());
      status = 1;
    } else {
      print_banner(config, relay.bound_port(), generated);
      spdlog::info("listening on http://{}:{}/ with {} worker loop{}", config.listen_host,
                   relay.bound_port(), config.workers, config.workers == 1 ? "" : "s");
    }
    loop.run();  // returns once every loop has shut down
  }
  if (const std::error_code error = loop.close()) {
    spdlog::warn("event loop closed with handles open: {}", error.message());
  }
  if (status == 0) spdlog::info("stopped");
  return status;
}
