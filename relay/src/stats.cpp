// /stats rendering with nlohmann::json: per mount, per worker, then relay-wide totals.
#include "ringcast/relay/stats.h"

#include <nlohmann/json.hpp>

namespace ringcast::relay {

namespace {
struct LaneSums {
  std::uint64_t bytes_out = 0, joins = 0, skips = 0, skipped_bytes = 0, slow_disconnects = 0;
};

LaneSums sum_lanes(const Stream& stream) {
  LaneSums sums;
  for (std::size_t i = 0; i < stream.lane_count(); ++i) {
    const StreamLane& lane = stream.lane(i);
    sums.bytes_out += lane.bytes_out.get();
    sums.joins += lane.joins.get();
    sums.skips += lane.skips.get();
    sums.skipped_bytes += lane.skipped_bytes.get();
    sums.slow_disconnects += lane.slow_disconnects.get();
  }
  return sums;
}
}  // namespace

std::string render_stats_json(const StatsInput& input) {
  nlohmann::json mounts = nlohmann::json::object();
  std::uint64_t bytes_in = input.ended.bytes_in.get();
  std::uint64_t viewers = 0;
  for (const auto& stream : input.streams) {
    const LaneSums sums = sum_lanes(*stream);
    const auto& ring = stream->ring();
    const std::uint64_t head = ring.head();
    const std::uint64_t fill = std::min<std::uint64_t>(head, ring.capacity());
    const std::size_t stream_viewers = stream->viewer_count();
    mounts[stream->mount()] = {
        {"source_connected", stream->has_source()},
        {"content_type", stream->metadata().content_type},
        {"bytes_in", stream->bytes_in()},
        {"ingest_bitrate", stream->ingest_bits_per_second()},
        {"viewers", stream_viewers},
        {"peak_viewers", stream->peak_viewers()},
        {"joins", sums.joins},
        {"bytes_out", sums.bytes_out},
        {"skips", sums.skips},
        {"skipped_bytes", sums.skipped_bytes},
        {"slow_disconnects", sums.slow_disconnects},
        {"source_connects", stream->source_connects()},
        {"ring_bytes", ring.capacity()},
        {"ring_fill_bytes", fill},
        {"ring_fill", static_cast<double>(fill) / static_cast<double>(ring.capacity())},
        {"head_position", head},
    };
    bytes_in += stream->bytes_in();
    viewers += stream_viewers;
  }

  nlohmann::json workers = nlohmann::json::array();
  std::uint64_t accepted = 0, closed = 0, bad = 0, auth = 0, in_use = 0, not_found = 0,
                method = 0, head_timeout = 0, too_large = 0, idle = 0, limit = 0, bytes_out = 0, skips = 0,
                slow = 0;
  for (const WorkerCounters* w : input.workers) {
    workers.push_back({{"viewers", w->viewers_joined.get() - w->viewers_left.get()},
                       {"bytes_out", w->bytes_out.get()},
                       {"connections_open", w->connections_accepted.get() - w->connections_closed.get()},
                       {"connections_accepted", w->connections_accepted.get()}});
    accepted += w->connections_accepted.get();
    closed += w->connections_closed.get();
    bad += w->bad_requests.get();
    auth += w->auth_failures.get();
    in_use += w->mount_in_use.get();
    not_found += w->not_found.get();
    method += w->bad_methods.get();
    head_timeout += w->head_timeouts.get();
    too_large += w->heads_too_large.get();
    limit += w->over_limit.get();
    idle += w->source_idle_timeouts.get();
    bytes_out += w->bytes_out.get();
    skips += w->skips.get();
    slow += w->slow_disconnects.get();
  }

  nlohmann::json doc = {
      {"version", input.version},
      {"uptime_seconds", static_cast<double>(input.uptime_ms) / 1000.0},
      {"connections", {{"open", accepted - closed}, {"accepted", accepted}}},
      {"refused",
       {{"bad_request", bad},
        {"auth", auth},
        {"mount_in_use", in_use},
        {"not_found", not_found},
        {"method", method},
        {"head_timeout", head_timeout},
        {"head_too_large", too_large},
        {"limit", limit}}},
      {"totals",
       {{"mounts", input.streams.size()},
        {"viewers", viewers},
        {"bytes_in", bytes_in},
        {"bytes_out", bytes_out},
        {"skips", skips},
        {"slow_disconnects", slow},
        {"source_idle_timeouts", idle},
        {"streams_ended", input.ended.streams.get()}}},
      {"workers", std::move(workers)},
      {"mounts", std::move(mounts)},
  };
  return doc.dump(2) + "\n";
}

}  // namespace ringcast::relay
