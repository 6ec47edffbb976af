// HLS players as a kind of viewer: a player is a run of playlist and segment requests, not a
// connection, so a session is an address that asked for a mount's HLS within the timeout.
// Clients behind one address (a NAT) count as one session. Any thread; one short lock each.
// The table is bounded: expired sessions are pruned by the housekeeping timer (prune()), and
// once kMaxSessions addresses are held a new one is served but not tracked (counted instead).
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringcast::relay {

class HlsSessions {
 public:
  // Players poll the playlist about once per segment (2 s by default): 15 s of silence is a
  // player that left.
  static constexpr std::uint64_t kTimeoutMs = 15'000;
  // About 6 MB of table per mount at most: more HLS players than one mount ever has from
  // distinct addresses, fewer than an address sweep could make.
  static constexpr std::size_t kMaxSessions = 65'536;

  // A request from `address` at `now_ms`; true when it starts a session.
  bool touch(std::string_view address, std::uint64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (last_seen_.size() >= kMaxSessions && !last_seen_.contains(std::string(address))) {
      ++untracked_;
      return false;
    }
    auto [it, inserted] = last_seen_.try_emplace(std::string(address), now_ms);
    if (!inserted) {
      const bool expired = now_ms - it->second >= kTimeoutMs;
      it->second = now_ms;
      if (expired) ++started_;
      return expired;
    }
    ++started_;
    return true;
  }
  // Sessions seen within the timeout.
  std::size_t active(std::uint64_t now_ms) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(last_seen_.begin(), last_seen_.end(), [&](const auto& entry) {
      return now_ms - entry.second < kTimeoutMs;
    }));
  }
  // Forgets the sessions that timed out; the housekeeping timer calls it every 250 ms.
  void prune(std::uint64_t now_ms) {
    std::lock_guard lock(mutex_);
    std::erase_if(last_seen_, [&](const auto& entry) { return now_ms - entry.second >= kTimeoutMs; });
  }
  // Addresses held now, expired or not (what prune() has left).
  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return last_seen_.size();
  }
  // Requests from a new address while the table was full.
  std::uint64_t untracked() const {
    std::lock_guard lock(mutex_);
    return untracked_;
  }
  std::uint64_t started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> last_seen_;
  std::uint64_t started_ = 0;
  std::uint64_t untracked_ = 0;
};

}  // namespace ringcast::relay
