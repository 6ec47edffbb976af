// Counters and the /stats JSON document. Each counter has one writing thread (its worker, or
// the housekeeping loop) and is read by /stats on any thread: no lock on the hot path, and the
// sums are taken only when /stats is read.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ringcast/relay/stream.h"

namespace ringcast::relay {

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
  Counter source_idle_timeouts;
  Counter viewers_joined;
  Counter viewers_left;
  Counter bytes_out;         // every byte sent to a viewer, whatever its mount's fate
  Counter skips;
  Counter slow_disconnects;
};

// Totals of mounts that have ended (written by the housekeeping loop only). Bytes out, skips
// and slow disconnects are totalled per worker instead: viewers of an ended mount may still be
// sent its last bytes.
struct EndedTotals {
  Counter streams;
  Counter bytes_in;
};

struct StatsInput {
  std::vector<const WorkerCounters*> workers;
  const EndedTotals& ended;
  std::vector<std::shared_ptr<Stream>> streams;
  std::uint64_t uptime_ms;
  std::string version;
};

std::string render_stats_json(const StatsInput& input);

}  // namespace ringcast::relay
