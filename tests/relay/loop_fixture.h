// A fresh libuv loop for one test, as libuv's own tests make them: closed, and checked closed,
// at the end, so a handle the test left open fails it (uv_loop_close() == 0).
#pragma once

#include <uv.h>

#include <catch2/catch.hpp>

struct Loop {
  uv_loop_t loop{};
  Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~Loop() { CHECK(uv_loop_close(&loop) == 0); }
};
