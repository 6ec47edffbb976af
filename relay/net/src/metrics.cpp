// /metrics: the Prometheus text exposition format (0.0.4). Same sources as /stats: per-lane
// and per-worker counters summed at read time, no lock on the hot path. Names follow the
// Prometheus conventions: a ringcast_ prefix, _total on counters, bytes and seconds.
#include <fmt/format.h>

#include <string_view>
#include "ringcast/net/stats.h"

namespace ringcast::relay {

namespace {

class Exposition {
 public:
  // Starts a metric family: HELP and TYPE lines.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::uint64_t value) {
    fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
  }
  void sample(std::string_view name, double value) {
    fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
  }
  // One label; the value is escaped as the format requires.
  template <typename Value>
  void sample(std::string_view name, std::string_view label, std::string_view label_value, Value value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{}=\"{}\"}} {}\n", name, label, escape(label_value), value);
  }
  // Two labels.
  template <typename Value>
  void sample2(std::string_view name, std::string_view label, std::string_view label_value,
               std::string_view label2, std::string_view label2_value, Value value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{}=\"{}\",{}=\"{}\"}} {}\n", name, label, escape(label_value),
                   label2, escape(label2_value), value);
  }
  template <std::size_t N>
  void histogram(std::string_view name, const std::array<std::uint64_t, N>& bounds,
                 const std::array<std::uint64_t, N + 1>& buckets, std::uint64_t sum) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += buckets[i];
      fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], cumulative);
    }
    cumulative += buckets[N];
    fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n",
                   name, cumulative, name, sum, name, cumulative);
  }
  std::string take() { return std::move(out_); }

 private:
  static std::string escape(std::string_view value) {
    std::string escaped;
    for (char c : value) {
      if (c == '\\' || c == '"') escaped += '\\';
      if (c == '\n') {
        escaped += "\\n";
        continue;
      }
      escaped += c;
    }
    return escaped;
  }

  std::string out_;
};

template <std::size_t N>
void add_buckets(std::array<std::uint64_t, N + 1>& into, const Histogram<N>& histogram) {
  for (std::size_t i = 0; i <= N; ++i) into[i] += histogram.buckets[i].get();
}

struct MountFamily {
  std::string_view name, type, help;
  std::uint64_t (*value)(const Stream&);
};

std::uint64_t ring_fill_bytes(const Stream& stream) {
  return std::min<std::uint64_t>(stream.ring().head(), stream.ring().capacity());
}

constexpr MountFamily kMountFamilies[] = {
    {"ringcast_mount_bytes_in_total", "counter", "Bytes received from the mount's sources.",
     [](const Stream& s) { return s.bytes_in(); }},
    {"ringcast_mount_bytes_out_total", "counter", "Bytes sent to the mount's viewers.",
     [](const Stream& s) { return sum_lanes(s, &StreamLane::bytes_out); }},
    {"ringcast_mount_ingest_bytes_per_second", "gauge", "Source ingest rate over the last 250 ms sample.",
     [](const Stream& s) { return s.ingest_bits_per_second() / 8; }},
    {"ringcast_viewers", "gauge", "Viewers connected to the mount.",
     [](const Stream& s) { return static_cast<std::uint64_t>(s.viewer_count()); }},
    {"ringcast_mount_joins_total", "counter", "Viewers that joined the mount.",
     [](const Stream& s) { return sum_lanes(s, &StreamLane::joins); }},
    {"ringcast_mount_skips_total", "counter", "Times a slow viewer was skipped to the live edge.",
     [](const Stream& s) { return sum_lanes(s, &StreamLane::skips); }},
    {"ringcast_mount_skipped_bytes_total", "counter", "Bytes slow viewers did not get because of skips.",
     [](const Stream& s) { return sum_lanes(s, &StreamLane::skipped_bytes); }},
    {"ringcast_mount_slow_disconnects_total", "counter", "Viewers disconnected for being too slow or stalled.",
     [](const Stream& s) { return sum_lanes(s, &StreamLane::slow_disconnects); }},
    {"ringcast_mount_source_connected", "gauge", "1 while a source is connected to the mount.",
     [](const Stream& s) { return std::uint64_t{s.has_source() ? 1u : 0u}; }},
    {"ringcast_mount_source_connects_total", "counter", "Source connections the mount accepted.",
     [](const Stream& s) { return s.source_connects(); }},
    {"ringcast_mount_source_changes_total", "counter",
     "Sources that followed another on the mount: listeners heard the new one from its first byte.",
     [](const Stream& s) { return s.source_changes(); }},
    {"ringcast_mount_ring_size_bytes", "gauge", "Capacity of the mount's ring.",
     [](const Stream& s) { return static_cast<std::uint64_t>(s.ring().capacity()); }},
    {"ringcast_mount_ring_fill_bytes", "gauge", "Bytes of stream held in the ring.", ring_fill_bytes},
};

}  // namespace

std::string render_metrics_text(const StatsInput& input) {
  Exposition out;
  out.family("ringcast_build_info", "gauge", "Always 1; the version is a label.");
  out.sample("ringcast_build_info", "version", input.version, 1);
  out.family("ringcast_start_time_seconds", "gauge", "Unix time the relay started at.");
  out.sample("ringcast_start_time_seconds", static_cast<double>(input.started_unix_ms) / 1000.0);

  for (const MountFamily& family : kMountFamilies) {
    out.family(family.name, family.type, family.help);
    for (const auto& stream : input.streams) {
      out.sample(family.name, "mount", stream->mount(), family.value(*stream));
    }
  }
  out.family("ringcast_mount_source_paused_seconds_total", "counter",
             "Time the relay kept the mount's source from reading: no ring room (a lane's gate).");
  for (const auto& stream : input.streams) {
    out.sample("ringcast_mount_source_paused_seconds_total", "mount", stream->mount(),
               static_cast<double>(stream->source_paused_us()) / 1e6);
  }
  out.family("ringcast_mount_write_period_seconds", "gauge",
             "Longest period between two writes to one viewer of the mount, over its loops.");
  for (const auto& stream : input.streams) {
    out.sample("ringcast_mount_write_period_seconds", "mount", stream->mount(),
               static_cast<double>(stream->write_period_us()) / 1e6);
  }
  // The title itself is not a label: one series per song would grow without bound.
  out.family("ringcast_mount_title_updated_timestamp_seconds", "gauge",
             "Unix time of the mount's last title (ICY metadata) change.");
  for (const auto& stream : input.streams) {
    if (const auto title = stream->title()) {
      out.sample("ringcast_mount_title_updated_timestamp_seconds", "mount", stream->mount(),
                 static_cast<double>(title->updated_unix_ms) / 1000.0);
    }
  }
  out.family("ringcast_mount_ring_fill_ratio", "gauge", "Fraction of the mount's ring holding stream.");
  for (const auto& stream : input.streams) {
    out.sample("ringcast_mount_ring_fill_ratio", "mount", stream->mount(),
               static_cast<double>(ring_fill_bytes(*stream)) / static_cast<double>(stream->ring().capacity()));
  }

  // MPEG-TS video mounts only: their structure and HLS audience.
  std::vector<std::pair<const Stream*, Stream::VideoStats>> video;
  for (const auto& stream : input.streams) {
    if (auto stats = stream->video_stats(); stats.video) video.emplace_back(stream.get(), stats);
  }
  const std::uint64_t now_ms = input.now_ms;
  out.family("ringcast_mount_hls_sessions", "gauge",
             "HLS players of the mount: addresses that asked for its playlist or segments lately.");
  for (const auto& stream : input.streams) {
    if (stream->video_stats().video) {
      out.sample("ringcast_mount_hls_sessions", "mount", stream->mount(),
                 static_cast<std::uint64_t>(stream->hls_sessions.active(now_ms)));
    }
  }
  out.family("ringcast_mount_hls_requests_total", "counter",
             "HLS requests of the mount by kind (playlist, segment, miss: a segment no longer held).");
  for (const auto& [stream, stats] : video) {
    const auto kind = [&](std::string_view name, const std::atomic<std::uint64_t>& value) {
      out.sample2("ringcast_mount_hls_requests_total", "mount", stream->mount(), "kind", name,
                  value.load(std::memory_order_relaxed));
    };
    kind("playlist", stream->hls_playlists);
    kind("segment", stream->hls_segments);
    kind("miss", stream->hls_misses);
  }
  out.family("ringcast_mount_keyframes_total", "counter", "Video keyframes the mount's MPEG-TS tracker indexed.");
  for (const auto& [stream, stats] : video) {
    out.sample("ringcast_mount_keyframes_total", "mount", stream->mount(), stats.counters.keyframes);
  }
  out.family("ringcast_mount_ts_malformed_packets_total", "counter",
             "MPEG-TS packets of the mount's sources that could not be parsed (lost sync, errors).");
  for (const auto& [stream, stats] : video) {
    out.sample("ringcast_mount_ts_malformed_packets_total", "mount", stream->mount(), stats.counters.malformed);
  }
  out.family("ringcast_mount_timeshift_window_seconds", "gauge",
             "How far back a rewind or an HLS player can start: the keyframes the ring's window holds.");
  for (const auto& [stream, stats] : video) {
    out.sample("ringcast_mount_timeshift_window_seconds", "mount", stream->mount(),
               static_cast<double>(stats.window_ms) / 1000.0);
  }

  // Relay trees: each pulled mount, with its origin in use (or being tried) as a label.
  out.family("ringcast_relay_streaming", "gauge",
             "1 while the pulled mount's bytes flow from its origin, 0 while it connects or retries.");
  for (const auto& pull : input.pulls) {
    out.sample2("ringcast_relay_streaming", "mount", pull.mount, "origin", pull.origin,
                pull.state == EdgeDirectory::PullState::streaming ? 1 : 0);
  }
  struct PullCounter {
    std::string_view name, help;
    std::uint64_t EdgeDirectory::PullInfo::*member;
  };
  constexpr PullCounter kPullCounters[] = {
      {"ringcast_relay_connects_total", "Feeds a pulled mount began (from any origin; reconnects are one less).",
       &EdgeDirectory::PullInfo::connects},
      {"ringcast_relay_failures_total",
       "Attempts at an origin that brought no feed (refused, no answer, an error status).",
       &EdgeDirectory::PullInfo::failures},
      {"ringcast_relay_failovers_total", "Feeds that came from another origin than the one before.",
       &EdgeDirectory::PullInfo::failovers},
  };
  for (const PullCounter& counter : kPullCounters) {
    out.family(counter.name, "counter", counter.help);
    for (const auto& pull : input.pulls) out.sample(counter.name, "mount", pull.mount, pull.*counter.member);
  }

  const auto total = [&](Counter WorkerCounters::*counter) { return sum_workers(input.workers, counter); };

  const std::uint64_t accepted = total(&WorkerCounters::connections_accepted);
  out.family("ringcast_connections", "gauge", "Open client connections (sources, viewers, requests).");
  out.sample("ringcast_connections", accepted - total(&WorkerCounters::connections_closed));
  out.family("ringcast_connections_accepted_total", "counter", "Client connections accepted.");
  out.sample("ringcast_connections_accepted_total", accepted);
  out.family("ringcast_refusals_total", "counter", "Requests answered with an error status, by reason.");
  for (const RefusalReason& reason : kRefusalReasons) {
    out.sample("ringcast_refusals_total", "reason", reason.name, total(reason.counter));
  }
  out.family("ringcast_source_idle_timeouts_total", "counter", "Sources dropped for sending nothing.");
  out.sample("ringcast_source_idle_timeouts_total", total(&WorkerCounters::source_idle_timeouts));
  out.family("ringcast_source_reads_total", "counter",
             "Reads that brought sources' bytes: as they arrive, or on demand before a write.");
  out.sample("ringcast_source_reads_total", total(&WorkerCounters::source_reads));
  out.family("ringcast_metadata_updates_total", "counter", "Titles set through /admin/metadata.");
  out.sample("ringcast_metadata_updates_total", total(&WorkerCounters::metadata_updates));
  out.family("ringcast_viewers_moved_total", "counter",
             "Viewers moved to another mount: a fallback, back from one, or by an admin.");
  out.sample("ringcast_viewers_moved_total", total(&WorkerCounters::viewers_moved));
  out.family("ringcast_auth_checks_total", "counter",
             "Listener and source authentication checks by a users file or an auth server, by outcome.");
  out.sample("ringcast_auth_checks_total", "outcome", "allowed", total(&WorkerCounters::auth_allowed));
  out.sample("ringcast_auth_checks_total", "outcome", "denied", total(&WorkerCounters::auth_denied));
  out.family("ringcast_auth_errors_total", "counter",
             "Auth server requests that timed out, failed or were answered with an error status.");
  out.sample("ringcast_auth_errors_total", total(&WorkerCounters::auth_errors));
  out.family("ringcast_auth_time_limits_total", "counter",
             "Listeners closed when the auth server's time limit (icecast-auth-timelimit) ran out.");
  out.sample("ringcast_auth_time_limits_total", total(&WorkerCounters::auth_time_limits));
  out.family("ringcast_mounts_ended_total", "counter", "Mounts whose grace period ran out.");
  out.sample("ringcast_mounts_ended_total", input.ended.streams.get());
  out.family("ringcast_bytes_out_total", "counter", "Bytes sent to viewers of every mount.");
  out.sample("ringcast_bytes_out_total", total(&WorkerCounters::bytes_out));

  std::array<std::uint64_t, kWriteBatchBounds.size() + 1> batch{};
  std::array<std::uint64_t, kViewerLagBounds.size() + 1> lag{};
  std::uint64_t batch_sum = 0, lag_sum = 0;
  for (const WorkerCounters* w : input.workers) {
    add_buckets(batch, w->write_batch_bytes);
    add_buckets(lag, w->viewer_lag_bytes);
    batch_sum += w->write_batch_bytes.sum.get();
    lag_sum += w->viewer_lag_bytes.sum.get();
  }
  out.family("ringcast_write_batch_bytes", "histogram", "Bytes handed to one write to a viewer.");
  out.histogram("ringcast_write_batch_bytes", kWriteBatchBounds, batch, batch_sum);
  out.family("ringcast_viewer_lag_bytes", "histogram",
             "How far behind the live edge a viewer's write started.");
  out.histogram("ringcast_viewer_lag_bytes", kViewerLagBounds, lag, lag_sum);

  out.family("ringcast_worker_viewers", "gauge", "Viewers served by each worker loop.");
  for (std::size_t i = 0; i < input.workers.size(); ++i) {
    const WorkerCounters* w = input.workers[i];
    out.sample("ringcast_worker_viewers", "worker", std::to_string(i),
               w->viewers_joined.get() - w->viewers_left.get());
  }
  out.family("ringcast_worker_bytes_out_total", "counter", "Bytes sent to viewers by each worker loop.");
  for (std::size_t i = 0; i < input.workers.size(); ++i) {
    out.sample("ringcast_worker_bytes_out_total", "worker", std::to_string(i), input.workers[i]->bytes_out.get());
  }
  out.family("ringcast_event_loop_lag_seconds", "gauge",
             "How late each event loop ran its last periodic timer (a busy loop runs late).");
  out.sample("ringcast_event_loop_lag_seconds", "loop", "main",
             static_cast<double>(input.main_loop_lag_us) / 1e6);
  for (std::size_t i = 0; i < input.workers.size(); ++i) {
    out.sample("ringcast_event_loop_lag_seconds", "loop", "worker-" + std::to_string(i),
               static_cast<double>(input.workers[i]->loop_lag.lag_us.get()) / 1e6);
  }
  out.family("ringcast_worker_busy_ratio", "gauge",
             "Share of the last sweeps each worker loop spent busy (not waiting for events).");
  for (std::size_t i = 0; i < input.workers.size(); ++i) {
    out.sample("ringcast_worker_busy_ratio", "worker", std::to_string(i),
               static_cast<double>(input.workers[i]->busy_permille.get()) / 1000);
  }
  out.family("ringcast_write_delay_seconds", "gauge",
             "How long a viewer's bytes may wait to be written with later ones, per worker loop.");
  for (std::size_t i = 0; i < input.workers.size(); ++i) {
    out.sample("ringcast_write_delay_seconds", "worker", std::to_string(i),
               static_cast<double>(input.workers[i]->write_delay_ms.get()) / 1000);
  }
  return out.take();
}

}  // namespace ringcast::relay
