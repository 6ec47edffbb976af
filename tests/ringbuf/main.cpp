// The one translation unit of ringbuf_tests that holds Catch2's runner and main().
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
