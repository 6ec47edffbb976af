// The last minutes of /stats, so the dashboard draws its charts at once on load: the main loop
// records a sample every two seconds into a ring of fixed capacity, and /stats/history renders
// it on a worker thread. One mutex, never taken on the data path; the writer never waits for it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::relay {

struct MountSample {
  std::string mount;
  std::uint64_t ingest_bitrate = 0;  // bits per second
  std::uint64_t viewers = 0;
  std::uint64_t bytes_out = 0;
};

// The relay-wide numbers of a sample.
struct RelaySample {
  double uptime_seconds = 0;  // the relay's uptime, as /stats reports it: one clock for both
  std::uint64_t viewers = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t refused = 0;  // every refusal of /stats "refused", summed
};

struct HistorySample {
  RelaySample relay;
  std::vector<MountSample> mounts;
};

// The sample in a /stats document; nullopt if it is not one.
std::optional<HistorySample> history_sample_from_stats(std::string_view stats_json);

class StatsHistory {
 public:
  static constexpr std::uint64_t kIntervalMs = 2000;
  static constexpr std::size_t kDefaultCapacity = 300;    // ten minutes at kIntervalMs
  static constexpr std::size_t kReservedNameBytes = 128;  // the default --max-mount-length

  explicit StatsHistory(std::size_t capacity = kDefaultCapacity);

  // --- the main loop ---
  bool due(std::uint64_t now_ms) const { return now_ms >= next_due_ms_; }
  // Records the /stats document rendered at `now_ms`. Sampling the rendered document keeps
  // the history's numbers those of /stats by construction. False if a reader held the lock
  // (the sample is then still due) or the document was not /stats.
  bool record(std::uint64_t now_ms, std::string_view stats_json);
  // The oldest sample is overwritten once `capacity` are held. Its storage is reused: once
  // every slot has held the most mounts there are, recording allocates nothing (for names up
  // to kReservedNameBytes; a longer one grows its entry once). Memory stays within capacity
  // times the most mounts times the longest name.
  bool record(std::uint64_t now_ms, const HistorySample& sample);

  // --- any thread ---
  // {"interval_seconds", "capacity", "samples": [oldest first]}; see docs/operations.md.
  std::string render_json() const;
  std::vector<HistorySample> samples() const;  // oldest first
  std::size_t capacity() const { return slots_.size(); }

 private:
  // A slot's `sample.mounts` never shrinks, so its strings keep their buffers: entries from
  // `mounts` on are spare storage for a later sample.
  struct Slot {
    HistorySample sample;
    std::size_t mounts = 0;
  };

  mutable std::mutex mutex_;
  std::vector<Slot> slots_;  // sized once; slot (first_ + i) % capacity is the i-th oldest
  std::size_t first_ = 0;
  std::size_t size_ = 0;
  std::uint64_t next_due_ms_ = 0;  // main loop only
};

}  // namespace ringcast::relay
