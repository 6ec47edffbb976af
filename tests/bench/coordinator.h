// The parent process of a run: forks the limit writer (limit mode) and the viewer processes,
// drives the broadcaster, samples the server from /proc, prints progress once a second and
// merges the viewer processes' results into the report.
#pragma once

#include "options.h"

namespace ringcast::bench {

// Returns the process exit code: 0, 1 (--expect-clean and not clean) or 2 (setup failed).
int run_coordinator(Options options);

}  // namespace ringcast::bench
