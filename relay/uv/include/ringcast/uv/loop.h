// An event loop, owned by one object (the relay's main, a worker): made, run to its end on one
// thread, then closed, with libuv's answer kept (a loop that does not close left a handle open).
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <system_error>

#include "ringcast/uv/error.h"

namespace ringcast::uv {

class Loop {
 public:
  Loop() = default;
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  // Closes it if nobody did (a loop that never ran).
  ~Loop() {
    if (initialized_ && !closed_) close();
  }

  // measure_idle: keep the time spent waiting for events (idle_ns()).
  std::error_code init(bool measure_idle = false) {
    int status = uv_loop_init(&loop_);
    initialized_ = status == 0;
    if (status == 0 && measure_idle) status = uv_loop_configure(&loop_, UV_METRICS_IDLE_TIME);
    return error(status);
  }
  // Until no handle is active any more.
  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }
  // After run(): no error when every handle was closed.
  std::error_code close() {
    closed_ = true;
    return error(uv_loop_close(&loop_));
  }

  uv_loop_t* get() { return &loop_; }
  // The time the loop has waited for events, in ns (init(true) only).
  std::uint64_t idle_ns() { return uv_metrics_idle_time(&loop_); }
  // A monotonic clock, in ns.
  static std::uint64_t now_ns() { return uv_hrtime(); }

 private:
  uv_loop_t loop_{};
  bool initialized_ = false;
  bool closed_ = false;
};

}  // namespace ringcast::uv
