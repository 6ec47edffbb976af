// /stats rendering with nlohmann::json: per mount, then relay-wide totals.
#include "ringcast/relay/stats.h"

#include <nlohmann/json.hpp>

#include "ringcast/relay/stream.h"

namespace ringcast::relay {

std::string render_stats_json(const StatsSnapshotInput& input) {
  const RelayCounters& c = input.counters;
  nlohmann::json mounts = nlohmann::json::object();
  std::uint64_t bytes_in = c.ended_bytes_in;
  std::uint64_t bytes_out = c.ended_bytes_out;
  std::uint64_t skips = c.ended_skips;
  std::uint64_t slow = c.ended_slow_disconnects;
  std::uint64_t viewers = 0;
  for (const auto& [mount, stream] : input.streams) {
    const StreamCounters& s = stream->counters();
    const auto& ring = stream->ring();
    const std::uint64_t head = ring.head();
    const std::uint64_t fill = std::min<std::uint64_t>(head, ring.capacity());
    mounts[mount] = {
        {"source_connected", stream->has_source()},
        {"content_type", stream->content_type()},
        {"bytes_in", s.bytes_in},
        {"ingest_bitrate", static_cast<std::uint64_t>(stream->ingest_bits_per_second())},
        {"viewers", stream->viewer_count()},
        {"peak_viewers", s.peak_viewers},
        {"joins", s.joins},
        {"bytes_out", s.bytes_out},
        {"skips", s.skips},
        {"skipped_bytes", s.skipped_bytes},
        {"slow_disconnects", s.slow_disconnects},
        {"source_connects", s.source_connects},
        {"ring_bytes", ring.capacity()},
        {"ring_fill_bytes", fill},
        {"ring_fill", static_cast<double>(fill) / static_cast<double>(ring.capacity())},
        {"head_position", head},
    };
    bytes_in += s.bytes_in;
    bytes_out += s.bytes_out;
    skips += s.skips;
    slow += s.slow_disconnects;
    viewers += stream->viewer_count();
  }
  nlohmann::json doc = {
      {"version", input.version},
      {"uptime_seconds", static_cast<double>(input.uptime_ms) / 1000.0},
      {"connections", {{"open", c.connections_open}, {"accepted", c.connections_accepted}}},
      {"refused",
       {{"bad_request", c.bad_requests},
        {"auth", c.auth_failures},
        {"mount_in_use", c.mount_in_use},
        {"not_found", c.not_found},
        {"method", c.bad_methods},
        {"head_timeout", c.head_timeouts},
        {"head_too_large", c.heads_too_large}}},
      {"totals",
       {{"mounts", input.streams.size()},
        {"viewers", viewers},
        {"bytes_in", bytes_in},
        {"bytes_out", bytes_out},
        {"skips", skips},
        {"slow_disconnects", slow},
        {"source_idle_timeouts", c.source_idle_timeouts},
        {"streams_ended", c.streams_ended}}},
      {"mounts", std::move(mounts)},
  };
  return doc.dump(2) + "\n";
}

}  // namespace ringcast::relay
