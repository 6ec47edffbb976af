// Catch2's runner and main(), compiled once for every test executable (tests/CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
