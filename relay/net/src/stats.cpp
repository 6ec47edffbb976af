// /stats rendering with nlohmann::json: per mount, per worker, then relay-wide totals.
#include "ringcast/net/stats.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace ringcast::relay {

std::uint64_t sum_workers(const std::vector<const WorkerCounters*>& workers, Counter WorkerCounters::*counter) {
  std::uint64_t sum = 0;
  for (const WorkerCounters* w : workers) sum += (w->*counter).get();
  return sum;
}

std::uint64_t sum_lanes(const Stream& stream, Counter StreamLane::*counter) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < stream.lane_count(); ++i) sum += (stream.lane(i).*counter).get();
  return sum;
}

void history_sample(const StatsInput& input, HistorySample& out) {
  const auto total = [&](Counter WorkerCounters::*counter) { return sum_workers(input.workers, counter); };
  RelaySample& relay = out.relay;
  relay = RelaySample{};
  relay.uptime_seconds = static_cast<double>(input.uptime_ms) / 1000.0;
  relay.connections_open = total(&WorkerCounters::connections_accepted) - total(&WorkerCounters::connections_closed);
  relay.bytes_in = input.ended.bytes_in.get();
  relay.bytes_out = total(&WorkerCounters::bytes_out);
  for (const RefusalReason& reason : kRefusalReasons) relay.refused += total(reason.counter);
  out.mounts.resize(input.streams.size());
  for (std::size_t i = 0; i < input.streams.size(); ++i) {
    const Stream& stream = *input.streams[i];
    MountSample& mount = out.mounts[i];
    mount.mount.assign(stream.mount());
    mount.ingest_bitrate = stream.ingest_bits_per_second();
    mount.viewers = stream.viewer_count();
    mount.bytes_out = sum_lanes(stream, &StreamLane::bytes_out);
    relay.viewers += mount.viewers;
    relay.bytes_in += stream.bytes_in();
  }
  std::sort(out.mounts.begin(), out.mounts.end(),
            [](const MountSample& a, const MountSample& b) { return a.mount < b.mount; });
}

std::string render_stats_json(const StatsInput& input) {
  nlohmann::json mounts = nlohmann::json::object();
  std::uint64_t bytes_in = input.ended.bytes_in.get();
  std::uint64_t viewers = 0;
  for (const auto& stream : input.streams) {
    const auto& ring = stream->ring();
    const std::uint64_t head = ring.head();
    const std::uint64_t fill = std::min<std::uint64_t>(head, ring.capacity());
    const std::size_t stream_viewers = stream->viewer_count();
    mounts[stream->mount()] = {
        {"source_connected", stream->has_source()},
        {"content_type", stream->metadata().content_type.str()},
        {"bytes_in", stream->bytes_in()},
        {"ingest_bitrate", stream->ingest_bits_per_second()},
        {"viewers", stream_viewers},
        {"peak_viewers", stream->peak_viewers()},
        {"joins", sum_lanes(*stream, &StreamLane::joins)},
        {"bytes_out", sum_lanes(*stream, &StreamLane::bytes_out)},
        {"skips", sum_lanes(*stream, &StreamLane::skips)},
        {"skipped_bytes", sum_lanes(*stream, &StreamLane::skipped_bytes)},
        {"slow_disconnects", sum_lanes(*stream, &StreamLane::slow_disconnects)},
        {"source_connects", stream->source_connects()},
        {"source_changes", stream->source_changes()},
        {"source_paused_ms", stream->source_paused_us() / 1000},
        {"write_period_ms", stream->write_period_us() / 1000},
        {"ring_bytes", ring.capacity()},
        {"ring_fill_bytes", fill},
        {"ring_fill", static_cast<double>(fill) / static_cast<double>(ring.capacity())},
        {"head_position", head},
    };
    if (stream->hidden()) mounts[stream->mount()]["hidden"] = true;
    if (const Stream::VideoStats video = stream->video_stats(); video.video) {
      const char* codec = video.codec == TsTracker::Codec::h264   ? "h264"
                          : video.codec == TsTracker::Codec::h265 ? "h265"
                                                                   : "unknown";
      mounts[stream->mount()]["video"] = {
          {"codec", codec},
          {"keyframes", video.counters.keyframes},
          {"keyframes_held", video.keyframes_held},
          {"timeshift_window_seconds", static_cast<double>(video.window_ms) / 1000.0},
          {"ts_packets", video.counters.packets},
          {"ts_malformed", video.counters.malformed},
      };
      mounts[stream->mount()]["hls"] = {
          {"sessions", stream->hls_sessions.active(input.now_ms)},
          {"sessions_started", stream->hls_sessions.started()},
          {"sessions_held", stream->hls_sessions.held()},
          {"sessions_untracked", stream->hls_sessions.untracked()},
          {"playlists", stream->hls_playlists.load(std::memory_order_relaxed)},
          {"segments", stream->hls_segments.load(std::memory_order_relaxed)},
          {"misses", stream->hls_misses.load(std::memory_order_relaxed)},
          {"segments_held", video.segments_held},
      };
    }
    if (const auto title = stream->title()) {
      mounts[stream->mount()]["title"] = title->title.str();
      mounts[stream->mount()]["title_updated_at"] = static_cast<double>(title->updated_unix_ms) / 1000.0;
    }
    bytes_in += stream->bytes_in();
    viewers += stream_viewers;
  }
  for (const auto& pull : input.pulls) {
    // An edge's pull: where its mount comes from. Shown once the mount exists here.
    if (!mounts.contains(pull.mount)) continue;
    mounts[pull.mount]["relay"] = {
        {"origin", pull.origin},
        {"state", EdgeDirectory::state_name(pull.state)},
        {"on_demand", pull.on_demand},
        {"connects", pull.connects},
        {"reconnects", pull.connects > 0 ? pull.connects - 1 : 0},
        {"failures", pull.failures},
        {"failovers", pull.failovers},
        {"state_seconds", static_cast<double>(input.now_ms - std::min(input.now_ms, pull.since_ms)) / 1000.0},
    };
  }

  nlohmann::json workers = nlohmann::json::array();
  for (const WorkerCounters* w : input.workers) {
    workers.push_back({{"viewers", w->viewers_joined.get() - w->viewers_left.get()},
                       {"bytes_out", w->bytes_out.get()},
                       {"connections_open", w->connections_accepted.get() - w->connections_closed.get()},
                       {"connections_accepted", w->connections_accepted.get()},
                       {"busy", static_cast<double>(w->busy_permille.get()) / 1000},
                       {"write_delay_ms", w->write_delay_ms.get()}});
  }
  const auto total = [&](Counter WorkerCounters::*counter) { return sum_workers(input.workers, counter); };
  const std::uint64_t accepted = total(&WorkerCounters::connections_accepted);
  nlohmann::json refused = nlohmann::json::object();
  for (const RefusalReason& reason : kRefusalReasons) refused[std::string(reason.name)] = total(reason.counter);

  nlohmann::json doc = {
      {"version", input.version},
      {"relay_id", input.relay_id},
      {"uptime_seconds", static_cast<double>(input.uptime_ms) / 1000.0},
      {"connections", {{"open", accepted - total(&WorkerCounters::connections_closed)}, {"accepted", accepted}}},
      {"refused", std::move(refused)},
      {"totals",
       {{"mounts", input.streams.size()},
        {"viewers", viewers},
        {"bytes_in", bytes_in},
        {"bytes_out", total(&WorkerCounters::bytes_out)},
        {"skips", total(&WorkerCounters::skips)},
        {"slow_disconnects", total(&WorkerCounters::slow_disconnects)},
        {"source_idle_timeouts", total(&WorkerCounters::source_idle_timeouts)},
        {"source_reads", total(&WorkerCounters::source_reads)},
        {"metadata_updates", total(&WorkerCounters::metadata_updates)},
        {"viewers_moved", total(&WorkerCounters::viewers_moved)},
        {"auth_allowed", total(&WorkerCounters::auth_allowed)},
        {"auth_denied", total(&WorkerCounters::auth_denied)},
        {"auth_errors", total(&WorkerCounters::auth_errors)},
        {"auth_time_limits", total(&WorkerCounters::auth_time_limits)},
        {"streams_ended", input.ended.streams.get()}}},
      {"workers", std::move(workers)},
      {"mounts", std::move(mounts)},
  };
  // Stored text is PeerText (valid UTF-8); replacing is the second line of defence.
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ringcast::relay
