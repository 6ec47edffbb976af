// /proc/PID/stat and /proc/PID/status parsing for the CPU and RSS samples.
#include "proc_sampler.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace ringcast::bench {
namespace {

std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  if (!fields) return std::nullopt;
  static const long ticks_per_second = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
}

std::optional<std::uint64_t> rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6)) * 1024;  // "VmRSS:   1234 kB"
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcSample> sample_process(pid_t pid) {
  auto cpu = cpu_seconds(pid);
  auto rss = rss_bytes(pid);
  if (!cpu || !rss) return std::nullopt;
  return ProcSample{*cpu, *rss};
}

}  // namespace ringcast::bench
