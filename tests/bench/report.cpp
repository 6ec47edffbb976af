// Summary statistics, the human report and the JSON line.
#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
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
          {"joins", c.joins},
          {"leaves", c.leaves},
          {"sessions_without_data", c.sessions_without_data},
          {"sessions_unverified", c.sessions_unverified},
          {"records_ok", v.records_ok},
          {"records_corrupt", v.records_corrupt},
          {"records_replayed", v.records_replayed},
          {"records_foreign", v.records_foreign},
          {"gaps", v.gaps},
          {"records_skipped", v.records_skipped},
          {"bytes_discarded_at_join", v.bytes_discarded_at_join},
          {"bytes_discarded_after_corruption", v.bytes_discarded_after_corruption},
          {"source_restarts", v.source_restarts},
          {"records_torn", v.records_torn},
          {"bytes_discarded_at_tear", v.bytes_discarded_at_tear},
          {"gaps_unaligned", v.gaps_unaligned},
          {"bytes_discarded_at_gap", v.bytes_discarded_at_gap},
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
          {"first_byte_p99_ms", ms(c.first_byte_ns.percentile(0.99))},
          {"answer_rx_p50_ms", ms(c.answer_rx_ns.percentile(0.5))},
          {"answer_rx_p99_ms", ms(c.answer_rx_ns.percentile(0.99))},
          {"stream_rx_p50_ms", ms(c.stream_rx_ns.percentile(0.5))},
          {"stream_rx_p99_ms", ms(c.stream_rx_ns.percentile(0.99))},
          {"icy_blocks", c.icy.blocks},
          {"icy_titles", c.icy.titles},
          {"icy_bad_blocks", c.icy.bad_blocks},
          {"icy_missing_metaint", c.icy_missing_metaint}};
}

// --title-every: which title every healthy viewer must have seen, and how many did. A title
// made (every mount answered 200) by the window's end less two metadata intervals at the
// stream rate has reached every viewer that reads at the rate: the relay puts it in the next
// block it writes, one interval on at most. The viewers are those with a window rate.
struct TitleCheck {
  std::uint32_t title = 0;  // 0: none was made early enough
  double margin_seconds = 0;
  std::optional<double> seen_ratio;
};

TitleCheck check_titles(const Options& options, const TitleFacts& titles,
                        const ClassResult& healthy, std::uint32_t metaint) {
  TitleCheck check;
  check.margin_seconds = 2.0 * metaint * 8 / static_cast<double>(options.rate_bps);
  const auto margin_ns = static_cast<std::uint64_t>(check.margin_seconds * 1e9);
  const std::uint64_t deadline =
      titles.window_end_ns > margin_ns ? titles.window_end_ns - margin_ns : 0;
  for (const auto& [title, made_ns] : titles.made) {
    if (made_ns <= deadline) check.title = std::max(check.title, title);
  }
  if (check.title == 0) return check;
  std::uint64_t viewers = 0, seen = 0;
  for (std::size_t n = 0; n < healthy.last_title_viewers.size(); ++n) {
    viewers += healthy.last_title_viewers[n];
    if (n >= check.title) seen += healthy.last_title_viewers[n];
  }
  check.seen_ratio = viewers > 0 ? static_cast<double>(seen) / static_cast<double>(viewers) : 0;
  return check;
}

// Least-squares slope of RSS over the window, in KiB per minute.
double rss_slope_kib_per_minute(const std::vector<std::pair<double, std::uint64_t>>& samples) {
  if (samples.size() < 2) return 0;
  double mean_t = 0, mean_rss = 0;
  for (const auto& [t, rss] : samples) {
    mean_t += t;
    mean_rss += static_cast<double>(rss) / 1024;
  }
  mean_t /= static_cast<double>(samples.size());
  mean_rss /= static_cast<double>(samples.size());
  double covariance = 0, variance = 0;
  for (const auto& [t, rss] : samples) {
    covariance += (t - mean_t) * (static_cast<double>(rss) / 1024 - mean_rss);
    variance += (t - mean_t) * (t - mean_t);
  }
  return variance > 0 ? covariance / variance * 60 : 0;
}

std::vector<std::string> failures_of(const Options& options, const json& summary,
                                     const ServerSamples& server) {
  std::vector<std::string> failures;
  for (const char* name : {"healthy", "stalled", "churning"}) {
    const json& c = summary.at(name);
    const std::string who = std::string(name) + " viewers: ";
    if (c["records_corrupt"] != 0) failures.push_back(who + "corrupt records");
    if (c["records_replayed"] != 0) failures.push_back(who + "replayed records");
    if (c["records_foreign"] != 0) {
      failures.push_back(who + "records of another mount's stream");
    }
    if (c["sessions_unverified"] != 0) {
      failures.push_back(who + "connections that never verified a record of their stream");
    }
    if (c["connect_failures"] != 0) failures.push_back(who + "connect failures");
    if (c["http_errors"] != 0) failures.push_back(who + "HTTP errors");
    if (c["late_joins"] != 0) {
      failures.push_back(who + "joined after the window began (raise --warmup, lower --ramp)");
    }
    if (c["icy_missing_metaint"] != 0) {
      failures.push_back(who + "answered without icy-metaint (--icy asked for ICY metadata)");
    }
    if (c["icy_bad_blocks"] != 0) failures.push_back(who + "malformed ICY metadata blocks");
  }
  if (options.title_every_seconds > 0) {
    if (summary["title_update_failures"] != 0) {
      failures.push_back("title updates not answered 200");
    }
    if (summary["icy_last_title_checked"] == 0) {
      failures.push_back(
          "no title update was made by the window's end less 2 metadata intervals (nothing to "
          "check: a longer run, or a shorter --title-every)");
    } else if (summary["icy_last_title_seen_ratio"].get<double>() < 1) {
      failures.push_back("healthy viewers that had not seen the last title update in time");
    }
  }
  // A viewer that reads all the time has no reason to be skipped forward.
  if (summary["healthy"]["gaps"] != 0) {
    failures.push_back("healthy viewers: skipped forward by the server (gaps)");
  }
  // Churning viewers have no whole-window rate; each connection must get going and stay.
  const json& churning = summary.at("churning");
  if (churning["server_disconnects"] != 0) {
    failures.push_back("churning viewers: closed by the server");
  }
  if (churning["sessions_without_data"] != 0) {
    failures.push_back("churning viewers: connections that got no stream byte before leaving");
  }
  // A soak that did not churn or reconnect as asked proves nothing about either.
  const double soak_seconds = options.warmup_seconds + options.duration_seconds;
  if (options.source_reconnect_seconds > 0 && summary.contains("source_reconnects")) {
    // Each broadcaster reconnects on its own schedule; they count together.
    const double expected = std::ceil(soak_seconds / options.source_reconnect_seconds) - 1;
    if (summary["source_reconnects"].get<double>() < (expected - 1) * options.mounts) {
      failures.push_back("the source reconnected fewer times than --source-reconnect-every asks");
    }
  }
  if (options.churn_per_second > 0 &&
      churning["leaves"].get<double>() <
          0.9 * std::floor(options.churn_per_second * soak_seconds)) {
    failures.push_back("churning viewers left fewer times than --churn asks");
  }
  if (options.max_rss_growth_kib >= 0 && summary.contains("server_rss_growth_after_warmup_bytes") &&
      summary["server_rss_growth_after_warmup_bytes"].get<double>() >
          options.max_rss_growth_kib * 1024) {
    failures.push_back("server RSS grew more than --max-rss-growth after the warm-up");
  }
  if (options.max_rss_growth_kib >= 0 &&
      !summary.contains("server_rss_growth_after_warmup_bytes")) {
    failures.push_back("server RSS not sampled for --max-rss-growth");
  }
  if (summary["healthy"]["fraction_at_99pct"] != 1.0) {
    failures.push_back("healthy viewers below 99% of the source rate");
  }
  if (!summary["source_error"].get<std::string>().empty()) failures.push_back("source failed");
  if (server.lost) failures.push_back("server process exited during the run");
  return failures;
}

// `soak`: also the churn and reconnect counts; `rates`: the class has whole-window rates.
void print_class(std::ostream& out, const char* title, const json& c, bool soak, bool rates) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s: %u viewers, %u connected, %u connect failures, %u HTTP errors, "
                "%u server disconnects, %u joined late, %u never verified a record\n"
                "  records ok %llu, CORRUPT %llu, replayed %llu, FOREIGN %llu, gaps %llu "
                "(%llu records skipped, %llu gaps inside records), discarded at join %llu B, "
                "after corruption %llu B\n",
                title, c["viewers"].get<unsigned>(), c["connected"].get<unsigned>(),
                c["connect_failures"].get<unsigned>(), c["http_errors"].get<unsigned>(),
                c["server_disconnects"].get<unsigned>(), c["late_joins"].get<unsigned>(),
                c["sessions_unverified"].get<unsigned>(), c["records_ok"].get<unsigned long long>(),
                c["records_corrupt"].get<unsigned long long>(),
                c["records_replayed"].get<unsigned long long>(),
                c["records_foreign"].get<unsigned long long>(), c["gaps"].get<unsigned long long>(),
                c["records_skipped"].get<unsigned long long>(),
                c["gaps_unaligned"].get<unsigned long long>(),
                c["bytes_discarded_at_join"].get<unsigned long long>(),
                c["bytes_discarded_after_corruption"].get<unsigned long long>());
  out << line;
  if (soak) {
    std::snprintf(line, sizeof line,
                  "  joins %u, leaves %u (%u before the first byte); source restarts seen %llu, "
                  "torn records %llu (%llu B)\n",
                  c["joins"].get<unsigned>(), c["leaves"].get<unsigned>(),
                  c["sessions_without_data"].get<unsigned>(),
                  c["source_restarts"].get<unsigned long long>(),
                  c["records_torn"].get<unsigned long long>(),
                  c["bytes_discarded_at_tear"].get<unsigned long long>());
    out << line;
  }
  if (rates) {
    std::snprintf(line, sizeof line,
                  "  rate min %.3f / median %.3f Mbit/s (%.1f%% / %.1f%% of source), "
                  "%.1f%% of viewers at >= 99%% (less one write)\n",
                  c["rate_min_bps"].get<double>() / 1e6, c["rate_median_bps"].get<double>() / 1e6,
                  c["rate_min_ratio"].get<double>() * 100,
                  c["rate_median_ratio"].get<double>() * 100,
                  c["fraction_at_99pct"].get<double>() * 100);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "  latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us; "
                "first byte p50 %.1f ms, p99 %.1f ms\n",
                c["latency_p50_us"].get<double>(), c["latency_p99_us"].get<double>(),
                c["latency_p999_us"].get<double>(), c["latency_max_us"].get<double>(),
                c["first_byte_p50_ms"].get<double>(), c["first_byte_p99_ms"].get<double>());
  out << line;
  std::snprintf(line, sizeof line,
                "  after the request, by kernel receive time: answer p50 %.1f ms, p99 %.1f ms; "
                "first stream byte p50 %.1f ms, p99 %.1f ms\n",
                c["answer_rx_p50_ms"].get<double>(), c["answer_rx_p99_ms"].get<double>(),
                c["stream_rx_p50_ms"].get<double>(), c["stream_rx_p99_ms"].get<double>());
  out << line;
}

}  // namespace

int report(const Options& options, const RunFacts& facts, std::ostream& out) {
  const ProcessResult& viewers = facts.viewers;
  const double rate = static_cast<double>(options.rate_bps);
  const double window = viewers.window_seconds;
  const std::uint64_t delivered = viewers.healthy.bytes_in_window +
                                  viewers.stalled.bytes_in_window +
                                  viewers.churning.bytes_in_window;
  const ServerSamples& server = facts.server;

  json summary = {
      {"mode", options.mode == Mode::kLimit ? "limit" : options.mode == Mode::kBare ? "bare" : "relay"},
      {"viewers", options.viewers},
      {"mounts", options.mounts},
      {"content_type", options.content_type},
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
    // Per broadcaster: the mean over the mounts, and the slowest one.
    const double per_second = window > 0 ? 8 / window : 0;
    summary["source_bytes_in_window"] = facts.source.bytes_in_window;
    summary["source_rate_bps"] =
        static_cast<double>(facts.source.bytes_in_window) * per_second / options.mounts;
    summary["source_rate_min_bps"] =
        static_cast<double>(facts.source.min_bytes_in_window) * per_second;
    summary["sources_failed"] = facts.source.failed;
    summary["source_cpu_s"] = facts.source.cpu_seconds;
    summary["source_max_backlog_bytes"] = facts.source.max_backlog_bytes;
    summary["source_reconnect_every_s"] = options.source_reconnect_seconds;
    summary["source_reconnects"] = facts.source.reconnects;
    summary["source_put_retries"] = facts.source.put_retries;
    summary["source_max_reconnect_ms"] = static_cast<double>(facts.source.max_reconnect_ns) / 1e6;
    summary["source_bytes_cut"] = facts.source.bytes_cut;
  }
  summary["churn_per_s"] = options.churn_per_second;
  summary["churning_viewers"] = options.churn_viewers;
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
    // Soak: the warm-up ends where the window starts; from there RSS should stay flat.
    const auto warm = static_cast<double>(server.window_start->rss_bytes);
    std::uint64_t max_after_warmup = server.window_start->rss_bytes;
    for (const auto& sample : server.rss_in_window) {
      max_after_warmup = std::max(max_after_warmup, sample.second);
    }
    summary["server_rss_warmup_end_bytes"] = server.window_start->rss_bytes;
    summary["server_rss_growth_after_warmup_bytes"] =
        static_cast<double>(server.window_end->rss_bytes) - warm;
    summary["server_rss_max_growth_after_warmup_bytes"] =
        static_cast<double>(max_after_warmup) - warm;
    summary["server_rss_slope_kib_per_min"] = rss_slope_kib_per_minute(server.rss_in_window);
    summary["server_rss_samples"] = server.rss_in_window.size();
    // Per mount: the whole RSS at the end of the window, and what it added to the idle server
    // (sampled before any broadcaster connected).
    const auto end = static_cast<double>(server.window_end->rss_bytes);
    summary["server_rss_per_mount_kib"] = end / 1024 / options.mounts;
    if (server.idle) {
      summary["server_rss_idle_bytes"] = server.idle->rss_bytes;
      summary["server_rss_growth_per_mount_kib"] =
          (end - static_cast<double>(server.idle->rss_bytes)) / 1024 / options.mounts;
    }
  }
  if (options.max_rss_growth_kib >= 0) summary["max_rss_growth_kib"] = options.max_rss_growth_kib;
  summary["icy"] = options.icy;
  std::uint32_t metaint = 0;
  if (options.icy) {
    IcyCounts icy;
    std::uint64_t missing = 0;
    for (const ClassResult* c : {&viewers.healthy, &viewers.stalled, &viewers.churning}) {
      icy.add(c->icy);
      missing += c->icy_missing_metaint;
      metaint = std::max(metaint, c->icy_metaint);
    }
    summary["icy_metaint"] = metaint;
    summary["icy_blocks"] = icy.blocks;
    summary["icy_titles"] = icy.titles;
    summary["icy_bad_blocks"] = icy.bad_blocks;
    summary["icy_missing_metaint"] = missing;
  }
  const TitleCheck title_check = check_titles(options, facts.titles, viewers.healthy, metaint);
  if (facts.titles.used) {
    summary["title_every_s"] = options.title_every_seconds;
    summary["title_updates"] = facts.titles.updates;
    summary["title_update_failures"] = facts.titles.failures;
    summary["title_error"] = facts.titles.error;
    summary["titles_made"] = facts.titles.made.size();
    summary["icy_last_title_checked"] = title_check.title;
    summary["icy_last_title_margin_s"] = title_check.margin_seconds;
    summary["icy_last_title_seen_ratio"] =
        title_check.seen_ratio ? json(*title_check.seen_ratio) : json(nullptr);
  }
  // One write fewer than the window could hold: a source write, or the relay's own write when
  // it holds bytes longer to write them together (--relay-write-ms), whichever is larger.
  const double write_bits = std::max<double>(options.chunk_bytes * 8.0,
                                             static_cast<double>(options.rate_bps) * options.relay_write_ms / 1000.0);
  const double slack = window > 0 ? write_bits / window : 0;
  summary["healthy"] = summarise_class(viewers.healthy, rate, slack);
  summary["stalled"] = summarise_class(viewers.stalled, rate, slack);
  summary["churning"] = summarise_class(viewers.churning, rate, slack);
  for (const char* no_rate : {"rate_min_bps", "rate_median_bps", "rate_min_ratio",
                              "rate_median_ratio", "fraction_at_99pct"}) {
    summary["churning"].erase(no_rate);  // churned connections have no whole-window rate
  }
  const std::vector<std::string> failures = failures_of(options, summary, server);
  summary["clean"] = failures.empty();
  summary["failures"] = failures;

  char line[512];
  std::snprintf(line, sizeof line,
                "ringcast-bench %s: %u viewers (%u stalled) on %u mount%s, %s at %.3f Mbit/s, "
                "chunk %u B, window %.2f s\n"
                "delivered %.1f MB (%.3f Gbit/s)\n",
                summary["mode"].get<std::string>().c_str(), options.viewers, options.stall_viewers,
                options.mounts, options.mounts == 1 ? "" : "s", options.content_type.c_str(),
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
    std::snprintf(
        line, sizeof line,
        "server rss after the warm-up: %.1f MB at its end, %.1f MB at the window's end "
        "(%+.0f KiB, max %+.0f KiB, slope %+.1f KiB/min over %zu samples)%s\n",
        server.window_start->rss_bytes / 1e6, server.window_end->rss_bytes / 1e6,
        summary["server_rss_growth_after_warmup_bytes"].get<double>() / 1024,
        summary["server_rss_max_growth_after_warmup_bytes"].get<double>() / 1024,
        summary["server_rss_slope_kib_per_min"].get<double>(), server.rss_in_window.size(),
        options.max_rss_growth_kib >= 0
            ? (", bound " + std::to_string(static_cast<long long>(options.max_rss_growth_kib)) +
               " KiB")
                  .c_str()
            : "");
    out << line;
    std::snprintf(line, sizeof line, "server rss per mount: %.1f KiB at the window's end%s\n",
                  summary["server_rss_per_mount_kib"].get<double>(),
                  summary.contains("server_rss_growth_per_mount_kib")
                      ? (", " +
                         std::to_string(static_cast<long long>(std::llround(
                             summary["server_rss_growth_per_mount_kib"].get<double>()))) +
                         " KiB above the idle server")
                            .c_str()
                      : "");
    out << line;
  }
  if (facts.source.used) {
    if (options.mounts > 1) {
      std::snprintf(line, sizeof line,
                    "sources: %u broadcasters, %.3f Mbit/s each on average, the slowest %.3f "
                    "Mbit/s, %u failed\n",
                    options.mounts, summary["source_rate_bps"].get<double>() / 1e6,
                    summary["source_rate_min_bps"].get<double>() / 1e6, facts.source.failed);
      out << line;
    }
    std::snprintf(line, sizeof line,
                  "source: %.3f Mbit/s in the window, max backlog %llu B, %llu reconnects "
                  "(%llu PUTs refused while the relay still had the old source, longest %.1f ms "
                  "from cut to streaming)%s%s\n",
                  summary["source_rate_bps"].get<double>() / 1e6,
                  static_cast<unsigned long long>(facts.source.max_backlog_bytes),
                  static_cast<unsigned long long>(facts.source.reconnects),
                  static_cast<unsigned long long>(facts.source.put_retries),
                  static_cast<double>(facts.source.max_reconnect_ns) / 1e6,
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
    // The broadcasters share the coordinator's one loop: near a full core they, not the
    // server, set the pace.
    const double source_busy = facts.source.cpu_seconds / options.duration_seconds;
    if (facts.source.used) {
      std::snprintf(line, sizeof line,
                    "bench broadcaster process: cpu %.2f s (%.0f%% of 1 core)%s\n",
                    facts.source.cpu_seconds, source_busy * 100,
                    source_busy > 0.9 ? " -- SATURATED: the sources may lag, fewer --mounts" : "");
      out << line;
    }
  }
  if (options.icy) {
    std::snprintf(line, sizeof line,
                  "icy: metaint %u, %llu blocks, %llu with a title, %llu MALFORMED, %llu "
                  "connections without icy-metaint\n",
                  metaint, summary["icy_blocks"].get<unsigned long long>(),
                  summary["icy_titles"].get<unsigned long long>(),
                  summary["icy_bad_blocks"].get<unsigned long long>(),
                  summary["icy_missing_metaint"].get<unsigned long long>());
    out << line;
  }
  if (facts.titles.used) {
    std::snprintf(line, sizeof line,
                  "titles: every %.1f s on %u mount%s, %zu made, %llu updates answered 200, %llu "
                  "FAILED%s%s\n",
                  options.title_every_seconds, options.mounts, options.mounts == 1 ? "" : "s",
                  facts.titles.made.size(), static_cast<unsigned long long>(facts.titles.updates),
                  static_cast<unsigned long long>(facts.titles.failures),
                  facts.titles.error.empty() ? "" : ": ", facts.titles.error.c_str());
    out << line;
    if (title_check.seen_ratio) {
      std::snprintf(line, sizeof line,
                    "  the last title made by %.2f s before the window's end (bench title %u) was "
                    "seen by %.1f%% of healthy viewers\n",
                    title_check.margin_seconds, title_check.title, *title_check.seen_ratio * 100);
    } else {
      std::snprintf(line, sizeof line,
                    "  no title was made %.2f s before the window's end: nothing to check\n",
                    title_check.margin_seconds);
    }
    out << line;
  }
  const bool soak = options.churn_per_second > 0 || options.source_reconnect_seconds > 0;
  print_class(out, "healthy", summary["healthy"], soak, true);
  if (options.stall_viewers > 0) print_class(out, "stalled", summary["stalled"], soak, true);
  if (options.churn_viewers > 0) print_class(out, "churning", summary["churning"], soak, false);
  out << (failures.empty() ? "verdict: clean\n" : "verdict: NOT clean:");
  for (const auto& failure : failures) out << " [" << failure << "]";
  if (!failures.empty()) out << "\n";
  out << "JSON " << summary.dump() << std::endl;
  return options.expect_clean && !failures.empty() ? 1 : 0;
}

}  // namespace ringcast::bench
