// The run's verdict: turns merged viewer results and server samples into the human summary,
// the one-line JSON summary ("JSON {...}" on stdout) and the exit status.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "options.h"
#include "proc_sampler.h"
#include "results.h"

namespace ringcast::bench {

struct ServerSamples {
  pid_t pid = 0;                   // 0: not sampled
  std::optional<ProcSample> idle;  // before any broadcaster connects
  std::optional<ProcSample> before_viewers;
  std::optional<ProcSample> window_start;
  std::optional<ProcSample> window_end;
  std::uint64_t rss_max_bytes = 0;
  // RSS once a second from the end of the warm-up to the end of the window: seconds since the
  // window began, bytes. For the growth bound and the slope.
  std::vector<std::pair<double, std::uint64_t>> rss_in_window;
  bool lost = false;  // a sample failed: the process exited during the run
};

struct SourceFacts {
  bool used = false;                      // false in limit mode
  std::uint64_t bytes_in_window = 0;      // all broadcasters together
  std::uint64_t min_bytes_in_window = 0;  // the slowest broadcaster
  std::uint32_t failed = 0;               // broadcasters that stopped
  double cpu_seconds = 0;                 // the coordinator's process (every source) in the window
  std::uint64_t max_backlog_bytes = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t put_retries = 0;
  std::uint64_t max_reconnect_ns = 0;
  std::uint64_t bytes_cut = 0;
  std::string error;
};

// --title-every: the updates the coordinator sent.
struct TitleFacts {
  bool used = false;
  std::uint64_t updates = 0;   // answered 200
  std::uint64_t failures = 0;  // any other answer, or none
  std::string error;           // the first failure
  // (N, when every mount had answered 200 for "bench title N")
  std::vector<std::pair<std::uint32_t, std::uint64_t>> made;
  std::uint64_t window_end_ns = 0;
};

struct RunFacts {
  ProcessResult viewers;
  ServerSamples server;
  SourceFacts source;
  TitleFacts titles;
};

// Prints both summaries to `out`; returns 1 if --expect-clean was given and the run was not
// clean, else 0.
int report(const Options& options, const RunFacts& facts, std::ostream& out);

}  // namespace ringcast::bench
