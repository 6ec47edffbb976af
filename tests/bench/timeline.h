// The run's schedule in absolute CLOCK_MONOTONIC ns, computed identically by the coordinator
// and every viewer process from the ramp start the coordinator sends them.
#pragma once

#include <cstdint>

#include "options.h"

namespace ringcast::bench {

struct Timeline {
  std::uint64_t ramp_start_ns = 0;
  std::uint64_t ramp_end_ns = 0;      // churn and source reconnects start here
  std::uint64_t window_start_ns = 0;  // the ramp has ended and the warm-up passed
  std::uint64_t window_end_ns = 0;
  std::uint64_t stall_start_ns = 0;
  std::uint64_t stall_end_ns = 0;
};

inline Timeline make_timeline(const Options& options, std::uint64_t ramp_start_ns) {
  const auto ns = [](double seconds) { return static_cast<std::uint64_t>(seconds * 1e9); };
  Timeline t;
  t.ramp_start_ns = ramp_start_ns;
  t.ramp_end_ns = ramp_start_ns + ns(options.ramp_seconds());
  t.window_start_ns = ramp_start_ns + ns(options.ramp_seconds() + options.warmup_seconds);
  t.window_end_ns = t.window_start_ns + ns(options.duration_seconds);
  t.stall_start_ns = t.window_start_ns + ns(options.stall_after_seconds);
  t.stall_end_ns = t.stall_start_ns + ns(options.stall_for_seconds);
  return t;
}

}  // namespace ringcast::bench
