// Relay-wide counters and the /stats JSON document. Counters are plain integers: everything
// that updates them runs on the one event loop that owns them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace ringcast::relay {

class Stream;

struct RelayCounters {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t bad_requests = 0;        // 400
  std::uint64_t auth_failures = 0;       // 401
  std::uint64_t mount_in_use = 0;        // 403
  std::uint64_t not_found = 0;           // 404
  std::uint64_t bad_methods = 0;         // 405
  std::uint64_t head_timeouts = 0;       // 408
  std::uint64_t heads_too_large = 0;     // 431
  std::uint64_t source_idle_timeouts = 0;
  std::uint64_t streams_ended = 0;
  // Totals of streams that have ended (live streams add their own counters on top).
  std::uint64_t ended_bytes_in = 0;
  std::uint64_t ended_bytes_out = 0;
  std::uint64_t ended_skips = 0;
  std::uint64_t ended_slow_disconnects = 0;
};

struct StatsSnapshotInput {
  const RelayCounters& counters;
  const std::map<std::string, std::shared_ptr<Stream>>& streams;
  std::uint64_t uptime_ms;
  std::string version;
};

std::string render_stats_json(const StatsSnapshotInput& input);

}  // namespace ringcast::relay
