// Catch2's main for bench_payload_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
