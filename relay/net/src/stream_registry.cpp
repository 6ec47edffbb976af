// Mount table operations; each holds the registry mutex for a map lookup and a few stores.
#include "ringcast/net/stream_registry.h"

namespace ringcast::relay {

StreamRegistry::Attached StreamRegistry::attach_source(const std::string& mount, std::size_t worker,
                                                       StreamMetadata metadata,
                                                       const MountSettings* settings) {
  std::lock_guard lock(mutex_);
  auto found = streams_.find(mount);
  if (found != streams_.end() && found->second->has_source()) {
    return {AttachOutcome::in_use, nullptr};
  }
  const bool resumed = found != streams_.end();
  if (resumed) --orphaned_;  // no source (checked above): it was in its grace period
  if (!resumed && streams_.size() >= config_.max_mounts) return {AttachOutcome::too_many_mounts, nullptr};
  if (!resumed) {
    FanoutSettings fanout = config_.fanout;
    RingSizing sizing;
    sizing.explicit_bytes = config_.ring_bytes;
    sizing.seconds = config_.ring_seconds;
    if (settings && settings->ring_bytes) sizing.explicit_bytes = *settings->ring_bytes;
    if (settings && settings->ring_seconds) {
      sizing.seconds = *settings->ring_seconds;
      if (!settings->ring_bytes) sizing.explicit_bytes = 0;  // the mount's own time wins
    }
    if (settings && settings->burst_bytes) fanout.burst_bytes = *settings->burst_bytes;
    if (settings && settings->latency_budget_ms) fanout.latency_budget_ms = *settings->latency_budget_ms;
    if (settings && settings->hls_segment_ms) fanout.hls_segment_ms = *settings->hls_segment_ms;
    const std::size_t ring_bytes = ring_bytes_for(sizing, metadata);
    found = streams_.emplace(mount, std::make_shared<Stream>(mount, fanout, ring_bytes, workers_)).first;
  }
  // Under the mutex, so that a mount cannot expire between "orphaned" and "attached".
  found->second->attach_source(worker, std::move(metadata));
  found->second->set_hidden(settings && settings->hidden.value_or(false));
  return {resumed ? AttachOutcome::resumed : AttachOutcome::started, found->second};
}

void StreamRegistry::detach_source(Stream& stream, std::uint64_t now_ms, std::uint64_t now_unix_ms) {
  std::lock_guard lock(mutex_);
  if (stream.has_source()) ++orphaned_;
  stream.detach_source(now_ms, now_unix_ms);
}

std::shared_ptr<Stream> StreamRegistry::find(const std::string& mount) const {
  std::lock_guard lock(mutex_);
  const auto found = streams_.find(mount);
  return found == streams_.end() ? nullptr : found->second;
}

std::vector<std::shared_ptr<Stream>> StreamRegistry::take_expired(std::uint64_t now_ms,
                                                                  std::uint64_t grace_ms) {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Stream>> expired;
  if (orphaned_ == 0) return expired;
  for (auto it = streams_.begin(); it != streams_.end();) {
    const Stream& stream = *it->second;
    // `now_ms` was read before this lock: a source that left since then has a later time, and
    // the difference must not wrap around into "long ago" (that ended mounts in mid-reconnect).
    const std::uint64_t since = stream.orphaned_since_ms();
    if (!stream.has_source() && now_ms >= since && now_ms - since >= grace_ms) {
      expired.push_back(std::move(it->second));
      it = streams_.erase(it);
      --orphaned_;
    } else {
      ++it;
    }
  }
  return expired;
}

std::vector<std::shared_ptr<Stream>> StreamRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Stream>> streams;
  for (const auto& [mount, stream] : streams_) streams.push_back(stream);
  return streams;
}

}  // namespace ringcast::relay
