// The one clock of the bench: CLOCK_MONOTONIC in ns, shared by every process on the machine,
// so a record's send time is comparable with a viewer's receive time in another process.
#pragma once

#include <cstdint>
#include <ctime>

namespace ringcast::bench {

inline std::uint64_t to_ns(const timespec& ts) {
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return to_ns(ts);
}

// CLOCK_REALTIME in ns: the clock of the kernel's receive timestamps (SO_TIMESTAMPNS).
inline std::uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return to_ns(ts);
}

// Milliseconds from now until `deadline_ns`, for uv_timer_start (0 if already past).
inline std::uint64_t ms_until(std::uint64_t deadline_ns) {
  const std::uint64_t now = monotonic_ns();
  return deadline_ns > now ? (deadline_ns - now + 999'999) / 1'000'000 : 0;
}

}  // namespace ringcast::bench
