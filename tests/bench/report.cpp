// Summary statistics, the human report and the JSON line.
#include "report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

namespace ringcast::bench {
namespace {

using nlohmann::json;

constexpr double kCleanRateFraction = 0.99;

// A viewer is "at rate" if it received 99% of the source rate over the window, less one write:
// a window holds a whole number of writes, which at low rates is more than 1% off.
json summarise_class(const ClassResult& c, double rate_bps, double slack_bps) {
  std::vector<double> rates = c.window_rates_bps;
  std::sort(rates.begin(), rates.end());
  const double min = rates.empty() ? 0 : rates.front();
  const double median = rates.empty() ? 0 : rates[rates.size() / 2];
  const auto at_rate = std::count_if(rates.begin(), rates.end(), [&](double r) {
    return r + slack_bps >= kCleanRateFraction * rate_bps;
  });
  const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  const auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  const VerifierCounts& v = c.counts;
  return {{"viewers", c.viewers},
          {"connected", c.connected},
          {"connect_failures", c.connect_failures},
          {"http_errors", c.http_errors},
          {"server_disconnects", c.server_disconnects},
          {"late_joins", c.late_joins},
          {"records_ok", v.records_ok},
          {"records_corrupt", v.records_corrupt},
          {"records_replayed", v.records_replayed},
          {"gaps", v.gaps},
          {"records_skipped", v.records_skipped},
          {"bytes_discarded_at_join", v.bytes_discarded_at_join},
          {"bytes_discarded_after_corruption", v.bytes_discarded_after_corruption},
          {"delivered_bytes", c.bytes_in_window},
          {"rate_min_bps", min},
          {"rate_median_bps", median},
          {"rate_min_ratio", min / rate_bps},
          {"rate_median_ratio", median / rate_bps},
          {"fraction_at_99pct", rates.empty() ? 0.0 : static_cast<double>(at_rate) / rates.size()},
          {"latency_p50_us", us(c.latency_ns.percentile(0.5))},
          {"latency_p99_us", us(c.latency_ns.percentile(0.99))},
          {"latency_p999_us", us(c.latency_ns.percentile(0.999))},
          {"latency_max_us", us(c.latency_ns.max())},
          {"first_byte_p50_ms", ms(c.first_byte_ns.percentile(0.5))},
          {"first_byte_p99_ms", ms(c.first_byte_ns.percentile(0.99))}};
}

std::vector<std::string> failures_of(const json& summary, const ServerSamples& server) {
  std::vector<std::string> failures;
  for (const char* name : {"healthy", "stalled"}) {
    const json& c = summary.at(name);
    const std::string who = std::string(name) + " viewers: ";
    if (c["records_corrupt"] != 0) failures.push_back(who + "corrupt records");
    if (c["records_replayed"] != 0) failures.push_back(who + "replayed records");
    if (c["connect_failures"] != 0) failures.push_back(who + "connect failures");
    if (c["http_errors"] != 0) failures.push_back(who + "HTTP errors");
    if (c["late_joins"] != 0) {
      failures.push_back(who + "joined after the window began (raise --warmup, lower --ramp)");
    }
  }
  if (summary["healthy"]["fraction_at_99pct"] != 1.0) {
    failures.push_back("healthy viewers below 99% of the source rate");
  }
  if (!summary["source_error"].get<std::string>().empty()) failures.push_back("source failed");
  if (server.lost) failures.push_back("server process exited during the run");
  return failures;
}

void print_class(std::ostream& out, const char* title, const json& c) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s: %u viewers, %u connected, %u connect failures, %u HTTP errors, "
                "%u server disconnects, %u joined late\n"
                "  records ok %llu, CORRUPT %llu, replayed %llu, gaps %llu (%llu records skipped), "
                "discarded at join %llu B, after corruption %llu B\n"
                "  rate min %.3f / median %.3f Mbit/s (%.1f%% / %.1f%% of source), "
                "%.1f%% of viewers at >= 99%% (less one write)\n"
                "  latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us; "
                "first byte p50 %.1f ms, p99 %.1f ms\n",
                title, c["viewers"].get<unsigned>(), c["connected"].get<unsigned>(),
                c["connect_failures"].get<unsigned>(), c["http_errors"].get<unsigned>(),
                c["server_disconnects"].get<unsigned>(), c["late_joins"].get<unsigned>(),
                c["records_ok"].get<unsigned long long>(),
                c["records_corrupt"].get<unsigned long long>(),
                c["records_replayed"].get<unsigned long long>(),
                c["gaps"].get<unsigned long long>(), c["records_skipped"].get<unsigned long long>(),
                c["bytes_discarded_at_join"].get<unsigned long long>(),
                c["bytes_discarded_after_corruption"].get<unsigned long long>(),
                c["rate_min_bps"].get<double>() / 1e6, c["rate_median_bps"].get<double>() / 1e6,
                c["rate_min_ratio"].get<double>() * 100, c["rate_median_ratio"].get<double>() * 100,
                c["fraction_at_99pct"].get<double>() * 100, c["latency_p50_us"].get<double>(),
                c["latency_p99_us"].get<double>(), c["latency_p999_us"].get<double>(),
                c["latency_max_us"].get<double>(), c["first_byte_p50_ms"].get<double>(),
                c["first_byte_p99_ms"].get<double>());
  out << line;
}

}  // namespace

int report(const Options& options, const RunFacts& facts, std::ostream& out) {
  const ProcessResult& viewers = facts.viewers;
  const double rate = static_cast<double>(options.rate_bps);
  const double window = viewers.window_seconds;
  const std::uint64_t delivered = viewers.healthy.bytes_in_window + viewers.stalled.bytes_in_window;
  const ServerSamples& server = facts.server;

  json summary = {
      {"mode", options.mode == Mode::kLimit ? "limit" : "relay"},
      {"viewers", options.viewers},
      {"stalled_viewers", options.stall_viewers},
      {"processes", options.processes},
      {"rate_bps", options.rate_bps},
      {"chunk_bytes", options.chunk_bytes},
      {"warmup_s", options.warmup_seconds},
      {"duration_s", options.duration_seconds},
      {"window_s", window},
      {"delivered_bytes", delivered},
      {"delivered_gbps", window > 0 ? static_cast<double>(delivered) * 8 / window / 1e9 : 0},
      {"bench_cpu_s", viewers.bench_cpu_seconds},
      {"server_pid", server.pid},
      {"source_error", facts.source.error}};
  if (facts.source.used) {
    summary["source_bytes_in_window"] = facts.source.bytes_in_window;
    summary["source_rate_bps"] =
        window > 0 ? static_cast<double>(facts.source.bytes_in_window) * 8 / window : 0;
    summary["source_max_backlog_bytes"] = facts.source.max_backlog_bytes;
  }
  if (server.window_start && server.window_end && server.before_viewers) {
    const double cpu = server.window_end->cpu_seconds - server.window_start->cpu_seconds;
    const double connected = viewers.healthy.connected + viewers.stalled.connected;
    summary["server_cpu_s"] = cpu;
    summary["server_cpu_s_per_gb"] =
        delivered > 0 ? cpu / (static_cast<double>(delivered) / 1e9) : 0;
    summary["server_rss_start_bytes"] = server.before_viewers->rss_bytes;
    summary["server_rss_end_bytes"] = server.window_end->rss_bytes;
    summary["server_rss_max_bytes"] = server.rss_max_bytes;
    summary["server_rss_growth_per_viewer_bytes"] =
        connected > 0 ? (static_cast<double>(server.window_end->rss_bytes) -
                         static_cast<double>(server.before_viewers->rss_bytes)) /
                            connected
                      : 0;
  }
  const double slack = window > 0 ? options.chunk_bytes * 8 / window : 0;
  summary["healthy"] = summarise_class(viewers.healthy, rate, slack);
  summary["stalled"] = summarise_class(viewers.stalled, rate, slack);
  const std::vector<std::string> failures = failures_of(summary, server);
  summary["clean"] = failures.empty();
  summary["failures"] = failures;

  char line[512];
  std::snprintf(line, sizeof line,
                "ringcast-bench %s: %u viewers (%u stalled) at %.3f Mbit/s, chunk %u B, "
                "window %.2f s\n"
                "delivered %.1f MB (%.3f Gbit/s)\n",
                summary["mode"].get<std::string>().c_str(), options.viewers, options.stall_viewers,
                rate / 1e6, options.chunk_bytes, window, static_cast<double>(delivered) / 1e6,
                summary["delivered_gbps"].get<double>());
  out << line;
  if (summary.contains("server_cpu_s")) {
    std::snprintf(line, sizeof line,
                  "server pid %d: cpu %.3f s = %.3f cpu-s per delivered GB; "
                  "rss %.1f -> %.1f MB (max %.1f), %.0f B per viewer\n",
                  static_cast<int>(server.pid), summary["server_cpu_s"].get<double>(),
                  summary["server_cpu_s_per_gb"].get<double>(),
                  server.before_viewers->rss_bytes / 1e6, server.window_end->rss_bytes / 1e6,
                  server.rss_max_bytes / 1e6,
                  summary["server_rss_growth_per_viewer_bytes"].get<double>());
    out << line;
  }
  if (facts.source.used) {
    std::snprintf(line, sizeof line, "source: %.3f Mbit/s in the window, max backlog %llu B%s%s\n",
                  summary["source_rate_bps"].get<double>() / 1e6,
                  static_cast<unsigned long long>(facts.source.max_backlog_bytes),
                  facts.source.error.empty() ? "" : ", ERROR: ", facts.source.error.c_str());
    out << line;
  }
  if (window > 0) {
    // Viewer processes near a full core each measure their own backlog, not the server.
    const double busy = viewers.bench_cpu_seconds / (window * options.processes);
    std::snprintf(line, sizeof line, "bench viewer processes: cpu %.2f s (%.0f%% of %u core%s)%s\n",
                  viewers.bench_cpu_seconds, busy * 100, options.processes,
                  options.processes == 1 ? "" : "s",
                  busy > 0.9 ? " -- SATURATED: results measure the bench, add --processes" : "");
    out << line;
  }
  print_class(out, "healthy", summary["healthy"]);
  if (options.stall_viewers > 0) print_class(out, "stalled", summary["stalled"]);
  out << (failures.empty() ? "verdict: clean\n" : "verdict: NOT clean:");
  for (const auto& failure : failures) out << " [" << failure << "]";
  if (!failures.empty()) out << "\n";
  out << "JSON " << summary.dump() << std::endl;
  return options.expect_clean && !failures.empty() ? 1 : 0;
}

}  // namespace ringcast::bench
