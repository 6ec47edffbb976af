// Reads a process's CPU time and resident memory from /proc (Linux only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace ringcast::bench {

struct ProcSample {
  double cpu_seconds;       // utime + stime from /proc/PID/stat
  std::uint64_t rss_bytes;  // VmRSS from /proc/PID/status
};

// nullopt if the process is gone or /proc cannot be read.
std::optional<ProcSample> sample_process(pid_t pid);

}  // namespace ringcast::bench
