// Counters and the /stats JSON document. Each counter has one writing thread (its worker, or
// the housekeeping loop) and is read by /stats on any thread: no lock on the hot path, and the
// sums are taken only when /stats is read.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringcast/edge/edge.h"
#include "ringcast/net/stream.h"
#include "ringcast/ops/stats_history.h"

namespace ringcast::relay {

// A Prometheus-style histogram with one writing thread: per-bucket counts (not cumulative;
// /metrics accumulates them), their sum and count. `kBounds` are the inclusive upper bounds.
template <std::size_t N>
struct Histogram {
  static constexpr std::size_t kBuckets = N;
  void observe(std::uint64_t value, const std::array<std::uint64_t, N>& bounds) {
    std::size_t i = 0;
    while (i < N && value > bounds[i]) ++i;
    buckets[i].add(1);
    sum.add(value);
  }
  std::array<Counter, N + 1> buckets;  // the last one is +Inf
  Counter sum;
};

// Bytes handed to one write to a viewer (the coalescing's effect), and how far behind the live
// edge that write started (the viewer's lag), in bytes.
inline constexpr std::array<std::uint64_t, 7> kWriteBatchBounds{
    188, 1'316, 4'096, 16'384, 65'536, 262'144, 1'048'576};
inline constexpr std::array<std::uint64_t, 8> kViewerLagBounds{
    1'316, 16'384, 65'536, 262'144, 1'048'576, 4'194'304, 16'777'216, 67'108'864};

// How late a loop runs its periodic timer: the owning loop calls tick() from the timer's
// callback; `lag_us` (a gauge) is read anywhere.
struct LoopLag {
  void tick(std::uint64_t now_ns, std::uint64_t interval_ms) {
    const std::uint64_t interval_ns = interval_ms * 1'000'000;
    if (last_ns != 0) {
      const std::uint64_t late_ns = now_ns - last_ns;
      lag_us.set(late_ns > interval_ns ? (late_ns - interval_ns) / 1000 : 0);
    }
    last_ns = now_ns;
  }
  Counter lag_us;
  std::uint64_t last_ns = 0;  // the owning loop only
};

struct WorkerCounters {
  Counter connections_accepted;
  Counter connections_closed;
  Counter bad_requests;     // 400, 505
  Counter auth_failures;    // 401
  Counter mount_in_use;     // 403
  Counter not_found;        // 404
  Counter bad_methods;      // 405
  Counter head_timeouts;    // 408
  Counter heads_too_large;  // 431
  Counter over_limit;       // 503: connections, viewers per mount, mounts
  Counter draining;         // 503: new listeners and sources while the relay drains (SIGTERM)
  Counter untrusted_proxies;  // closed: a connection to a PROXY listener from an untrusted address
  Counter relay_loops;        // 508: a relay's pull that passed through this relay already
  Counter origin_failures;    // 502: an edge's listeners whose mount no origin served
  Counter source_idle_timeouts;
  Counter source_reads;      // reads that brought a source's bytes (as they arrive or on demand)
  Counter metadata_updates;  // titles set through /admin/metadata
  Counter viewers_moved;     // to a fallback mount, back, or by an admin (moveclients)
  Counter auth_allowed;      // listeners and sources a users file or auth server allowed
  Counter auth_denied;       // refused by them (wrong password, unknown user, the server's no)
  Counter auth_errors;       // the auth server timed out, failed or answered garbage
  Counter auth_time_limits;  // listeners closed when the auth server's time limit ran out
  Counter viewers_joined;
  Counter viewers_left;
  Counter bytes_out;         // every byte sent to a viewer, whatever its mount's fate
  Counter skips;
  Counter slow_disconnects;
  Histogram<kWriteBatchBounds.size()> write_batch_bytes;
  Histogram<kViewerLagBounds.size()> viewer_lag_bytes;
  LoopLag loop_lag;  // how late the loop's last 250 ms sweep ran
  Counter busy_permille;   // gauge: the loop's busy share of the last sweeps (0-1000)
  Counter write_delay_ms;  // gauge: how long bytes wait for company now (fanout.h)
};

// The refusals by reason, as /stats ("refused") and /metrics (ringcast_refusals_total) name them.
struct RefusalReason {
  std::string_view name;
  Counter WorkerCounters::*counter;
};
inline constexpr RefusalReason kRefusalReasons[] = {
    {"bad_request", &WorkerCounters::bad_requests}, {"auth", &WorkerCounters::auth_failures},
    {"mount_in_use", &WorkerCounters::mount_in_use}, {"not_found", &WorkerCounters::not_found},
    {"method", &WorkerCounters::bad_methods},        {"head_timeout", &WorkerCounters::head_timeouts},
    {"head_too_large", &WorkerCounters::heads_too_large}, {"limit", &WorkerCounters::over_limit},
    {"draining", &WorkerCounters::draining},         {"untrusted_proxy", &WorkerCounters::untrusted_proxies},
    {"relay_loop", &WorkerCounters::relay_loops},    {"origin", &WorkerCounters::origin_failures},
};

// One counter summed over every worker, or over a mount's lanes (relaxed loads, at read time).
std::uint64_t sum_workers(const std::vector<const WorkerCounters*>& workers, Counter WorkerCounters::*counter);
std::uint64_t sum_lanes(const Stream& stream, Counter StreamLane::*counter);

// Totals of mounts that have ended (written by the housekeeping loop only). Bytes out, skips
// and slow disconnects are totalled per worker instead: viewers of an ended mount may still be
// sent its last bytes.
struct EndedTotals {
  Counter streams;
  Counter bytes_in;
};

struct StatsInput {
  std::vector<const WorkerCounters*> workers;
  std::uint64_t main_loop_lag_us = 0;
  std::uint64_t started_unix_ms = 0;
  const EndedTotals& ended;
  std::vector<std::shared_ptr<Stream>> streams;
  std::uint64_t uptime_ms;
  std::string version;
  std::uint64_t now_ms = 0;  // monotonic (HLS sessions expire by it)
  std::vector<EdgeDirectory::PullInfo> pulls;  // an edge's pulls, by mount
  std::string relay_id;                         // this relay's id in relay chains
};

std::string render_stats_json(const StatsInput& input);
// The dashboard's history sample: the numbers render_stats_json shows, without rendering them.
// The main loop takes one every two seconds whether or not anyone looks, so at thousands of
// mounts rendering /stats and parsing it back would cost more than the rest of its work.
// `out`'s storage is reused; its mounts come in /stats's order (by name).
void history_sample(const StatsInput& input, HistorySample& out);
// The Prometheus text exposition format (version 0.0.4) of the same numbers, and histograms.
std::string render_metrics_text(const StatsInput& input);

}  // namespace ringcast::relay
