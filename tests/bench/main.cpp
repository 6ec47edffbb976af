// ringcast-bench: wiring only. Parses options, raises the descriptor limit, runs the coordinator.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>

#include "coordinator.h"
#include "options.h"

int main(int argc, char** argv) {
  using namespace ringcast::bench;
  auto parsed = parse_options(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  // Thousands of viewers need thousands of descriptors: take all the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  const std::uint32_t per_process =
      (parsed.options->viewers + parsed.options->processes - 1) / parsed.options->processes;
  if (per_process + 100 > files.rlim_cur) {
    std::fprintf(stderr,
                 "ringcast-bench: %u viewers per process exceed the descriptor limit %llu;"
                 " use --processes\n",
                 per_process, static_cast<unsigned long long>(files.rlim_cur));
    return 2;
  }
  if (parsed.options->in_tool_writer() && parsed.options->viewers + 100 > files.rlim_cur) {
    std::fprintf(stderr,
                 "ringcast-bench: limit mode's single writer holds one descriptor per viewer:"
                 " at most %llu viewers\n",
                 static_cast<unsigned long long>(files.rlim_cur - 100));
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return run_coordinator(*parsed.options);
}
