// The broadcasters of a run: connect ramp, staggered pacing, one heap of due times.
#include "source_group.h"

#include <algorithm>
#include <limits>

#include "pacing.h"

namespace ringcast::bench {

SourceGroup::SourceGroup(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
                         std::uint64_t now_ns)
    : options_(options), first_connect_ns_(now_ns) {
  // Source i's grid is offset by i / M of an interval; starting one interval back keeps every
  // origin in the past, so a source's first chunk is always its grid's latest point.
  // With mixed write sizes, the grids spread over the longest interval.
  std::uint32_t widest = options.chunk_bytes;
  if (!options.mixed_chunks.empty()) widest = *std::max_element(options.mixed_chunks.begin(), options.mixed_chunks.end());
  const std::uint64_t interval = Pacing{0, options.rate_bps, widest}.interval_ns();
  const std::uint64_t base = now_ns > interval ? now_ns - interval : 0;
  for (const std::uint32_t chunk : options.mixed_chunks) {
    variants_.push_back(options);
    variants_.back().chunk_bytes = chunk;
  }
  sources_.reserve(options.mounts);
  for (std::uint32_t i = 0; i < options.mounts; ++i) {
    const auto offset = static_cast<std::uint64_t>(Wide{interval} * i / options.mounts);
    const Options& own = variants_.empty() ? options : variants_[i % variants_.size()];
    sources_.push_back(std::make_unique<Source>(loop, own, relay, i, base + offset));
  }
}

void SourceGroup::pump(std::uint64_t now_ns) {
  const std::uint32_t count = size();
  while (next_to_start_ < count) {
    const double slot_seconds = next_to_start_ / options_.source_ramp_per_second;
    if (first_connect_ns_ + static_cast<std::uint64_t>(slot_seconds * 1e9) > now_ns) break;
    sources_[next_to_start_]->start();
    schedule(next_to_start_++, now_ns);
  }
  while (!due_.empty() && due_.top().first <= now_ns) {
    const std::uint32_t index = due_.top().second;
    due_.pop();
    Source& source = *sources_[index];
    if (!next_reconnect_ns_.empty() && now_ns >= next_reconnect_ns_[index] &&
        now_ns < reconnect_until_ns_ && source.reconnect(now_ns)) {
      next_reconnect_ns_[index] +=
          static_cast<std::uint64_t>(options_.source_reconnect_seconds * 1e9);
    }
    source.pump(now_ns);
    schedule(index, now_ns);
  }
}

void SourceGroup::schedule(std::uint32_t index, std::uint64_t now_ns) {
  auto wakeup = sources_[index]->next_wakeup(now_ns);
  if (!wakeup) return;  // failed or closed: nothing more to do
  // A streaming source is due again at its next chunk; its reconnect turn may come first.
  if (!next_reconnect_ns_.empty() && next_reconnect_ns_[index] < reconnect_until_ns_) {
    wakeup = std::min(*wakeup, std::max(next_reconnect_ns_[index], now_ns + 1));
  }
  due_.emplace(std::max(*wakeup, now_ns + 1), index);
}

void SourceGroup::set_reconnects(std::uint64_t from_ns, std::uint64_t until_ns) {
  if (options_.source_reconnect_seconds <= 0) return;
  const double every = options_.source_reconnect_seconds * 1e9;
  reconnect_until_ns_ = until_ns;
  next_reconnect_ns_.resize(sources_.size());
  for (std::uint32_t i = 0; i < size(); ++i) {
    next_reconnect_ns_[i] = from_ns + static_cast<std::uint64_t>(every + every * i / size());
  }
  // Entries already queued wake at their next chunk; the first turns come later than that,
  // unless a chunk interval is longer than the spread of the turns, so requeue everyone.
  std::vector<Due> queued;
  while (!due_.empty()) {
    queued.push_back(due_.top());
    due_.pop();
  }
  for (const Due& entry : queued) {
    due_.emplace(std::min(entry.first, next_reconnect_ns_[entry.second]), entry.second);
  }
}

void SourceGroup::close() {
  for (auto& source : sources_) source->close();
  due_ = {};
}

std::uint32_t SourceGroup::streaming() const {
  return static_cast<std::uint32_t>(std::count_if(sources_.begin(), sources_.end(), [](auto& s) {
    return s->state() == Source::State::kStreaming;
  }));
}

std::uint32_t SourceGroup::failed() const {
  return static_cast<std::uint32_t>(std::count_if(sources_.begin(), sources_.end(), [](auto& s) {
    return s->state() == Source::State::kFailed;
  }));
}

std::string SourceGroup::first_error() const {
  for (const auto& source : sources_) {
    if (source->state() != Source::State::kFailed) continue;
    return size() == 1 ? source->error() : source->mount() + ": " + source->error();
  }
  return "";
}

void SourceGroup::begin_window() {
  bytes_at_window_start_.resize(sources_.size());
  for (std::uint32_t i = 0; i < size(); ++i) bytes_at_window_start_[i] = sources_[i]->bytes_sent();
}

void SourceGroup::end_window() {
  window_bytes_ = 0;
  min_window_bytes_ = std::numeric_limits<std::uint64_t>::max();
  for (std::uint32_t i = 0; i < size(); ++i) {
    const std::uint64_t bytes = sources_[i]->bytes_sent() - bytes_at_window_start_[i];
    window_bytes_ += bytes;
    min_window_bytes_ = std::min(min_window_bytes_, bytes);
  }
}

std::uint64_t SourceGroup::total(std::uint64_t (Source::*counter)() const) const {
  std::uint64_t sum = 0;
  for (const auto& source : sources_) sum += ((*source).*counter)();
  return sum;
}

std::uint64_t SourceGroup::most(std::uint64_t (Source::*counter)() const) const {
  std::uint64_t largest = 0;
  for (const auto& source : sources_) largest = std::max(largest, ((*source).*counter)());
  return largest;
}

std::uint64_t SourceGroup::max_backlog_bytes() const { return most(&Source::max_backlog_bytes); }
std::uint64_t SourceGroup::reconnects() const { return total(&Source::reconnects); }
std::uint64_t SourceGroup::put_retries() const { return total(&Source::put_retries); }
std::uint64_t SourceGroup::max_reconnect_ns() const { return most(&Source::max_reconnect_ns); }
std::uint64_t SourceGroup::bytes_cut() const { return total(&Source::bytes_cut); }

}  // namespace ringcast::bench
