// The integration tests' one Catch2 main.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
