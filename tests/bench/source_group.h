// Every broadcaster of a run, on the coordinator's loop: one Source per mount, connected at a
// bounded rate (--source-ramp), their pacing grids staggered over one chunk interval so that
// thousands of sources do not write in lockstep, and all of them driven by the caller's one
// timer through a min-heap of due times (a pump touches only the sources that are due).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "options.h"
#include "source.h"

namespace ringcast::bench {

class SourceGroup {
 public:
  SourceGroup(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
              std::uint64_t now_ns);
  SourceGroup(const SourceGroup&) = delete;
  SourceGroup& operator=(const SourceGroup&) = delete;

  // Connects the sources whose turn has come and pumps every source that is due.
  void pump(std::uint64_t now_ns);
  // Reconnects every --source-reconnect-every seconds from from_ns to until_ns, source i at
  // from + k * S + i * S / M (k = 1, 2, ...). A source not streaming at its turn does it as
  // soon as it is again.
  void set_reconnects(std::uint64_t from_ns, std::uint64_t until_ns);
  void close();

  std::uint32_t size() const { return static_cast<std::uint32_t>(sources_.size()); }
  std::uint32_t streaming() const;
  // The first source that failed ("/mount: why" with more than one mount), empty if none.
  std::string first_error() const;
  std::uint32_t failed() const;

  // The measured window: bytes the kernel accepted per source between the two calls.
  void begin_window();
  void end_window();
  std::uint64_t window_bytes() const { return window_bytes_; }          // all sources
  std::uint64_t min_window_bytes() const { return min_window_bytes_; }  // the slowest one

  std::uint64_t max_backlog_bytes() const;
  std::uint64_t reconnects() const;
  std::uint64_t put_retries() const;
  std::uint64_t max_reconnect_ns() const;
  std::uint64_t bytes_cut() const;

 private:
  // Over every broadcaster: the sum, or the largest, of one of its counters.
  std::uint64_t total(std::uint64_t (Source::*counter)() const) const;
  std::uint64_t most(std::uint64_t (Source::*counter)() const) const;
  using Due = std::pair<std::uint64_t, std::uint32_t>;  // (wake-up ns, source index)

  void schedule(std::uint32_t index, std::uint64_t now_ns);

  const Options& options_;
  std::vector<Options> variants_;  // --mixed-chunks: one per write size (the sources refer to them)
  std::vector<std::unique_ptr<Source>> sources_;
  std::uint64_t first_connect_ns_;
  std::uint32_t next_to_start_ = 0;
  // Each started source that has not ended has exactly one entry.
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  std::vector<std::uint64_t> next_reconnect_ns_;
  std::uint64_t reconnect_until_ns_ = 0;
  std::vector<std::uint64_t> bytes_at_window_start_;
  std::uint64_t window_bytes_ = 0;
  std::uint64_t min_window_bytes_ = 0;
};

}  // namespace ringcast::bench
