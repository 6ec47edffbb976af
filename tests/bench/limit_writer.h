// Limit mode's server: the simplest thing that can feed the same viewers. It generates records
// at the configured rate into one buffer and writes each chunk to every accepted socket with
// uv_try_write. Its CPU per delivered GB is the ceiling no relay can beat.
#pragma once

#include "options.h"

namespace ringcast::bench {

// Runs in a forked child: listens on 127.0.0.1:0, writes "PORT <n>\n" to report_fd, serves
// until SIGTERM or until the parent dies. Returns the process exit code.
int run_limit_writer(const Options& options, int report_fd);

}  // namespace ringcast::bench
