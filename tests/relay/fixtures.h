// Files captured from real peers (fixtures/, beside this header), read whole by the tests that
// compare with them.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

inline std::string read_fixture(const std::string& relative_path) {
  std::ifstream in(std::string(RINGCAST_FIXTURES) + "/" + relative_path, std::ios::binary);
  REQUIRE(in);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}
