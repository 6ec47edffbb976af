// Command-line parsing and validation of the bench's Options.
#include "options.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>

namespace ringcast::bench {
namespace {

// "4M", "500k", "1.5G" or a plain number of bits per second.
std::optional<std::uint64_t> parse_rate(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string suffix = text.substr(used);
  if (suffix == "k" || suffix == "K")
    value *= 1e3;
  else if (suffix == "m" || suffix == "M")
    value *= 1e6;
  else if (suffix == "g" || suffix == "G")
    value *= 1e9;
  else if (!suffix.empty())
    return std::nullopt;
  if (!(value >= 8000 && value <= 100e9)) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(value));
}

// http://HOST:PORT/MOUNT (IPv6 hosts in brackets).
bool apply_url(const std::string& url, Options& options) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  const std::string rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 == rest.size()) return false;
  std::string authority = rest.substr(0, slash);
  options.mount = rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  if (colon == std::string::npos || authority.back() == ']') return false;
  options.port = static_cast<std::uint16_t>(std::stoul(authority.substr(colon + 1)));
  std::string host = authority.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  options.host = host;
  return true;
}

}  // namespace

namespace {
// Whether item i of n is one of k spread evenly over the range (and so over the processes).
bool is_spread(std::uint64_t i, std::uint64_t k, std::uint64_t n) {
  return (i + 1) * k / n != i * k / n;
}
}  // namespace

bool Options::is_stalled(std::uint32_t viewer) const {
  return is_spread(viewer, stall_viewers, viewers);
}

std::string Options::mount_path(std::uint32_t index) const {
  if (mounts == 1) return mount;
  // The extension is a dot in the last path segment, not its first character (/.hidden).
  const std::size_t segment = mount.rfind('/') + 1;
  std::size_t dot = mount.rfind('.');
  if (dot == std::string::npos || dot <= segment) dot = mount.size();
  return mount.substr(0, dot) + "-" + std::to_string(index) + mount.substr(dot);
}

bool Options::is_mpeg_ts() const {
  return content_type == "video/mp2t" || content_type == "video/MP2T" ||
         content_type == "video/mpegts";
}

bool Options::is_churning(std::uint32_t viewer) const {
  if (churn_viewers == 0 || is_stalled(viewer)) return false;
  // The viewer's rank among those that do not stall: stalled ones up to it are (i+1)*K/n.
  const std::uint64_t stalled_up_to = (std::uint64_t{viewer} + 1) * stall_viewers / viewers;
  return is_spread(viewer - stalled_up_to, churn_viewers, viewers - stall_viewers);
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

ParseOutcome parse_options(int argc, char** argv) {
  Options options;
  CLI::App app{
      "ringcast-bench: load generator for an Icecast-compatible relay on loopback.\n"
      "Modes: relay (default; one broadcaster PUTs to the relay, viewers GET from it) and\n"
      "limit (a trivial in-tool writer serves the viewers: the ceiling no relay can beat)."};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // scripts append
  std::string mode = "relay";
  std::string url;
  std::string rate = "4M";
  app.add_option("mode", mode, "relay, limit or bare")->check(CLI::IsMember({"relay", "limit", "bare"}));
  app.add_option("--mode", mode, "same as the positional mode")
      ->check(CLI::IsMember({"relay", "limit", "bare"}));
  app.add_option("--url", url, "http://127.0.0.1:PORT/MOUNT (instead of --host/--port/--mount)");
  app.add_option("--host", options.host, "relay host: 127.x.x.x, ::1 or localhost only")
      ->capture_default_str();
  app.add_option("--port", options.port, "relay port")->capture_default_str();
  app.add_option("--viewer-ports", options.viewer_ports,
                 "relay tree: viewers read from these ports (edges of --port's relay), viewer k from the "
                 "(k mod count)-th; the broadcaster still feeds --port")
      ->delimiter(',');
  app.add_option("--mount", options.mount, "mount path")->capture_default_str();
  app.add_option("--mounts", options.mounts,
                 "broadcasters, one per mount named <stem>-<i><ext> from --mount "
                 "(/bench.ts: /bench-0.ts ...); viewer k watches mount k % M")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxMounts));
  app.add_option("--mixed-chunks", options.mixed_chunks,
                 "with --mounts: broadcaster i writes the (i mod count)-th of these many bytes at a time, "
                 "at the same rate (mounts with different write patterns in one run; instead of --chunk)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 4u * 1024 * 1024));
  app.add_option("--source-ramp", options.source_ramp_per_second,
                 "broadcaster connects per second (with --mounts)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--password", options.password, "source password (user is \"source\")")
      ->capture_default_str();
  app.add_option("--content-type", options.content_type, "the broadcaster's Content-Type")
      ->capture_default_str();
  app.add_option("--relay-pid", options.relay_pid, "sample this process's CPU and RSS");
  app.add_option("-n,--viewers", options.viewers, "viewer connections")->capture_default_str();
  app.add_option("--ramp", options.ramp_per_second, "viewer connects per second")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--processes", options.processes,
                 "viewer processes (default: ceil(viewers / 19900))");
  app.add_option("--rate", rate, "stream rate in bits/s, suffix k/M/G allowed")
      ->capture_default_str();
  app.add_option("--chunk", options.chunk_bytes, "bytes per broadcaster (and writer) write")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4u << 20));
  app.add_option("--settle", options.settle_seconds,
                 "seconds the broadcasters stream before the first viewer connects (a reconnect "
                 "storm meets a full ring: at 128 kbit/s the 64 KiB burst takes 4 s)")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--warmup", options.warmup_seconds, "seconds after the ramp, not measured")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--duration", options.duration_seconds, "measured seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.5, kMaxDurationSeconds));
  app.add_option("--stall-viewers", options.stall_viewers,
                 "viewers that stop reading for a while (reported separately)")
      ->capture_default_str();
  app.add_option("--stall-after", options.stall_after_seconds,
                 "seconds into the measured window when they stop")
      ->capture_default_str()
      ->check(CLI::Range(0.0, kMaxDurationSeconds));
  app.add_option("--stall-for", options.stall_for_seconds, "seconds they stay stopped")
      ->capture_default_str()
      ->check(CLI::Range(0.0, kMaxDurationSeconds));
  app.add_option("--churn", options.churn_per_second,
                 "soak: churning viewers that leave per second, each replaced at once by a "
                 "fresh connection (from the end of the ramp to the end of the window)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--churn-viewers", options.churn_viewers,
                 "soak: viewers that churn, reported apart (default with --churn: a quarter)");
  app.add_option("--source-reconnect-every", options.source_reconnect_seconds,
                 "soak: seconds between broadcaster reconnects (cut mid-record, PUT again)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, kMaxDurationSeconds));
  app.add_option("--max-rss-growth", options.max_rss_growth_kib,
                 "soak: KiB the server's RSS may grow from the end of the warm-up to the end "
                 "(a failure for --expect-clean)");
  app.add_option("--series", options.series_path,
                 "write a per-second CSV (server RSS and CPU, viewers, joins, reconnects)");
  app.add_flag("--icy", options.icy,
               "viewers ask for ICY metadata (Icy-MetaData: 1), must get icy-metaint, and take "
               "the metadata blocks out before verifying the stream");
  app.add_option("--title-every", options.title_every_seconds,
                 "seconds between title updates (GET /admin/metadata ... mode=updinfo, "
                 "song=\"bench title N\") on every mount, from the start of the ramp; needs --icy")
      ->check(CLI::Range(0.0, kMaxDurationSeconds));
  app.add_option("--burst", options.limit_burst_bytes,
                 "limit mode: bytes behind the live edge a new viewer starts at")
      ->capture_default_str();
  app.add_option("--relay-write-ms", options.relay_write_ms,
                 "the longest the relay holds bytes to write them together (ringcast: --latency-budget); "
                 "the rate check allows one such write fewer per window (default: one source write)")
      ->check(CLI::Range(0.0, 10'000.0));
  app.add_option("--bare-write-bytes", options.bare_write_bytes,
                 "bare mode: each viewer is written once per this many stream bytes (the relay's "
                 "--coalesce-bytes at a full audience)")
      ->check(CLI::Range(1u, 4u << 20))
      ->capture_default_str();
  app.add_option("--limit-flush-ms", options.limit_flush_ms,
                 "limit mode: batch writes to viewers this often (0: one write per chunk); "
                 "match a relay that coalesces")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0));
  app.add_flag("--expect-clean", options.expect_clean,
               "exit 1 on any corrupt record, connect failure or healthy viewer under 99% rate");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return {std::nullopt, app.exit(error)};
  }
  const auto fail = [](const std::string& message) {
    std::cerr << "ringcast-bench: " << message << "\n";
    return ParseOutcome{std::nullopt, 2};
  };
  options.mode = mode == "limit" ? Mode::kLimit : mode == "bare" ? Mode::kBare : Mode::kRelay;
  if (!url.empty() && !apply_url(url, options)) return fail("bad --url " + url);
  if (!is_loopback_host(options.host)) {
    return fail("refusing non-loopback host " + options.host + " (127.x, ::1, localhost only)");
  }
  if (options.host == "localhost") options.host = "127.0.0.1";
  if (options.mount.empty() || options.mount[0] != '/') return fail("--mount must start with /");
  auto rate_bps = parse_rate(rate);
  if (!rate_bps) return fail("bad --rate " + rate + " (8k..100G bits/s)");
  options.rate_bps = *rate_bps;
  if (options.viewers == 0 || options.viewers > kMaxViewers) {
    return fail("--viewers must be 1.." + std::to_string(kMaxViewers));
  }
  if (options.stall_viewers >= options.viewers && options.stall_viewers > 0) {
    return fail("--stall-viewers must leave at least one healthy viewer");
  }
  if (options.churn_per_second > 0 && options.churn_viewers == 0) {
    options.churn_viewers = std::max(1u, options.viewers / 4);
  }
  if (options.churn_viewers > 0 && options.churn_per_second <= 0) {
    return fail("--churn-viewers needs --churn");
  }
  if (options.stall_viewers + options.churn_viewers >= options.viewers &&
      options.churn_viewers > 0) {
    return fail("--churn-viewers and --stall-viewers must leave at least one steady viewer");
  }
  if (options.in_tool_writer() &&
      (options.churn_per_second > 0 || options.source_reconnect_seconds > 0)) {
    return fail("--churn and --source-reconnect-every are relay-mode options");
  }
  if (options.in_tool_writer() && options.mounts > 1) {
    return fail(
        "limit mode serves one stream: --mounts is a relay-mode option (for the cost of the "
        "same viewer writes, run limit with the same --viewers, --rate and --chunk)");
  }
  if (options.in_tool_writer() && (options.icy || options.title_every_seconds > 0)) {
    return fail("--icy and --title-every are relay-mode options (the limit writer sends no ICY)");
  }
  if (options.title_every_seconds > 0 && !options.icy) {
    return fail("--title-every needs --icy (the viewers check the titles they receive)");
  }
  if (options.title_every_seconds > 0 && options.title_every_seconds < 0.1) {
    return fail("--title-every must be at least 0.1 s");
  }
  if (options.max_rss_growth_kib >= 0 && options.relay_pid == 0 && options.mode == Mode::kRelay) {
    return fail("--max-rss-growth needs --relay-pid");
  }
  const std::uint32_t needed =
      (options.viewers + kMaxViewersPerProcess - 1) / kMaxViewersPerProcess;
  if (options.processes == 0) options.processes = needed;
  if (options.processes < needed || options.processes > 64 || options.processes > options.viewers) {
    return fail("--processes must be " + std::to_string(needed) + "..min(64, viewers)");
  }
  if (options.limit_burst_bytes > (1u << 20)) return fail("--burst must be at most 1 MiB");
  return {options, 0};
}

}  // namespace ringcast::bench
