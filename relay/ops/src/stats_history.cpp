// StatsHistory: samples taken from the /stats document, kept in a ring of reused slots, and
// rendered as /stats/history.
#include "ringcast/ops/stats_history.h"

#include <cassert>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ringcast::relay {

namespace {
std::uint64_t number_or_zero(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
}
}  // namespace

std::optional<HistorySample> history_sample_from_stats(std::string_view stats_json) {
  const nlohmann::json doc = nlohmann::json::parse(stats_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("totals") || !doc.contains("mounts") ||
      !doc["mounts"].is_object() || !doc.value("uptime_seconds", nlohmann::json()).is_number()) {
    return std::nullopt;
  }
  HistorySample sample;
  RelaySample& relay = sample.relay;
  relay.uptime_seconds = doc["uptime_seconds"].get<double>();
  const nlohmann::json& totals = doc["totals"];
  relay.viewers = number_or_zero(totals, "viewers");
  relay.bytes_in = number_or_zero(totals, "bytes_in");
  relay.bytes_out = number_or_zero(totals, "bytes_out");
  if (const auto connections = doc.find("connections"); connections != doc.end()) {
    relay.connections_open = number_or_zero(*connections, "open");
  }
  // Every kind of refusal counts, including kinds /stats may learn later.
  if (const auto refused = doc.find("refused"); refused != doc.end() && refused->is_object()) {
    for (const auto& count : *refused) {
      if (count.is_number_unsigned()) relay.refused += count.get<std::uint64_t>();
    }
  }
  for (const auto& [mount, stats] : doc["mounts"].items()) {
    sample.mounts.push_back({mount, number_or_zero(stats, "ingest_bitrate"),
                             number_or_zero(stats, "viewers"), number_or_zero(stats, "bytes_out")});
  }
  return sample;
}

StatsHistory::StatsHistory(std::size_t capacity) : slots_(capacity) {
  if (capacity == 0) throw std::invalid_argument("StatsHistory needs a capacity of at least 1");
}

bool StatsHistory::record(std::uint64_t now_ms, std::string_view stats_json) {
  const auto sample = history_sample_from_stats(stats_json);
  assert(sample && "the relay's own /stats is always a /stats document");
  return sample && record(now_ms, *sample);
}

bool StatsHistory::record(std::uint64_t now_ms, const HistorySample& sample) {
  // The main loop accepts connections: it never waits for a reader, it samples on a later tick.
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  const std::size_t slot = (first_ + size_) % slots_.size();
  if (size_ == slots_.size()) {
    first_ = (first_ + 1) % slots_.size();  // the oldest goes
  } else {
    ++size_;
  }
  Slot& target = slots_[slot];
  target.sample.relay = sample.relay;
  std::vector<MountSample>& mounts = target.sample.mounts;
  for (std::size_t i = 0; i < sample.mounts.size(); ++i) {
    if (i == mounts.size()) mounts.emplace_back().mount.reserve(kReservedNameBytes);
    mounts[i].mount.assign(sample.mounts[i].mount);  // within its capacity: no allocation
    mounts[i].ingest_bitrate = sample.mounts[i].ingest_bitrate;
    mounts[i].viewers = sample.mounts[i].viewers;
    mounts[i].bytes_out = sample.mounts[i].bytes_out;
  }
  target.mounts = sample.mounts.size();
  next_due_ms_ = now_ms + kIntervalMs;
  return true;
}

std::vector<HistorySample> StatsHistory::samples() const {
  std::vector<HistorySample> oldest_first;
  std::lock_guard lock(mutex_);
  oldest_first.reserve(size_);
  for (std::size_t i = 0; i < size_; ++i) {
    const Slot& slot = slots_[(first_ + i) % slots_.size()];
    const auto mounts = slot.sample.mounts.begin();
    oldest_first.push_back(
        {slot.sample.relay, std::vector<MountSample>(mounts, mounts + slot.mounts)});
  }
  return oldest_first;
}

std::string StatsHistory::render_json() const {
  // Copy under the lock, render outside it: the writer is kept out only for the copy.
  const std::vector<HistorySample> oldest_first = samples();
  nlohmann::json samples = nlohmann::json::array();
  for (const HistorySample& sample : oldest_first) {
    nlohmann::json mounts = nlohmann::json::object();
    for (const MountSample& mount : sample.mounts) {
      mounts[mount.mount] = {{"ingest_bitrate", mount.ingest_bitrate},
                             {"viewers", mount.viewers},
                             {"bytes_out", mount.bytes_out}};
    }
    const RelaySample& relay = sample.relay;
    samples.push_back({{"uptime_seconds", relay.uptime_seconds},
                       {"viewers", relay.viewers},
                       {"connections_open", relay.connections_open},
                       {"bytes_in", relay.bytes_in},
                       {"bytes_out", relay.bytes_out},
                       {"refused", relay.refused},
                       {"mounts", std::move(mounts)}});
  }
  const nlohmann::json doc = {{"interval_seconds", static_cast<double>(kIntervalMs) / 1000.0},
                              {"capacity", slots_.size()},
                              {"samples", std::move(samples)}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ringcast::relay
