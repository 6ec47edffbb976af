// A forked viewer process: waits for the coordinator's go, runs its share of the viewers on
// one loop following the shared Timeline, and reports over a pipe, one JSON line at a time:
// "P {progress}" once a second, then "R {result}" once its viewers are closed.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "options.h"

namespace ringcast::bench {

// Returns the process exit code. go_fd carries "GO <ramp_start_ns>\n"; EOF means abort.
int run_viewer_process(const Options& options, const sockaddr_storage& relay, std::uint32_t first,
                       std::uint32_t count, int go_fd, int report_fd);

}  // namespace ringcast::bench
