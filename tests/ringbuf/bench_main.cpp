// Catch2's runner and main() for ringbuf_bench; CATCH_CONFIG_ENABLE_BENCHMARKING comes from the
// target (CMakeLists.txt), so this TU and the benchmarks agree on it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
