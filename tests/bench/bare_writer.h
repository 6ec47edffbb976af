// Bare mode's server: limit mode's writer without an event library. One thread sleeps to the
// next write period, accepts, and write(2)s every viewer the period's bytes from one generated
// buffer: the cost of the kernel's send path alone, the floor for the relay's fan-out.
#pragma once

#include "options.h"

namespace ringcast::bench {

// Runs in a forked child: listens on 127.0.0.1:0, writes "PORT <n>\n" to report_fd, serves
// until SIGTERM or until the parent dies. Returns the process exit code.
int run_bare_writer(const Options& options, int report_fd);

}  // namespace ringcast::bench
