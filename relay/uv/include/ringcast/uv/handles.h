// Thin owners of libuv handles: each wraps one handle, points the handle's `data` at itself and
// calls a member function of its owner from the callback, with no std::function and no
// allocation. The owning object keeps the wrapper as a member and calls close() when it is
// done; the wrapper's memory must outlive the loop's close callback, which it does when the
// owner lives until its loop has run to its end (the relay, a worker, a loop's clients), or
// frees itself in a close callback of its own.
//
//   struct Worker {
//     uv::Timer sweep;
//     void on_sweep();
//     Worker(uv_loop_t* loop) { sweep.init<&Worker::on_sweep>(loop, this); sweep.start(250, 250); }
//   };
//
// libuv stays visible where it matters (the fan-out's writes call uv_try_write and uv_write
// themselves); these are the handles around it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <system_error>

#include "ringcast/uv/error.h"

namespace ringcast::uv {

// What the wrappers share: the handle, its owner, the member to call, and closing.
template <typename Handle, typename... Args>
class HandleOwner {
 public:
  HandleOwner() = default;
  HandleOwner(const HandleOwner&) = delete;
  HandleOwner& operator=(const HandleOwner&) = delete;

  // Once initialized, until close(): false before init() and after close().
  bool open() const { return initialized_ && !uv_is_closing(base()); }
  // Idempotent; a handle never initialized is left alone.
  void close() {
    if (open()) uv_close(base(), nullptr);
  }
  // Closes, then deletes the owner (the Owner given to init(), which holds this wrapper) in the
  // close callback: for owners made and dropped while the loop runs. Only for an open handle.
  template <typename Owner>
  void close_then_delete() {
    if (!open()) return;
    on_closed_ = [](void* owner) { delete static_cast<Owner*>(owner); };
    uv_close(base(), closed_cb);
  }

 protected:
  using Trampoline = void (*)(void* owner, Args...);
  template <auto Member, typename Owner>
  void bind(Owner* owner) {
    owner_ = owner;
    trampoline_ = [](void* self, Args... args) { (static_cast<Owner*>(self)->*Member)(args...); };
    handle_.data = this;
  }
  void call(Args... args) { trampoline_(owner_, args...); }
  static HandleOwner& of(Handle* handle) { return *static_cast<HandleOwner*>(handle->data); }
  std::error_code initialized(int status) {
    initialized_ = status == 0;
    return error(status);
  }

  Handle handle_{};

 private:
  uv_handle_t* base() const {
    return reinterpret_cast<uv_handle_t*>(const_cast<Handle*>(&handle_));
  }
  static void closed_cb(uv_handle_t* handle) {
    auto& self = *static_cast<HandleOwner*>(handle->data);
    self.on_closed_(self.owner_);
  }

  void* owner_ = nullptr;
  Trampoline trampoline_ = nullptr;
  void (*on_closed_)(void* owner) = nullptr;
  bool initialized_ = false;
};

// A timer that calls `Member()` of its owner.
class Timer : public HandleOwner<uv_timer_t> {
 public:
  template <auto Member, typename Owner>
  std::error_code init(uv_loop_t* loop, Owner* owner) {
    bind<Member>(owner);
    return initialized(uv_timer_init(loop, &handle_));
  }
  // After timeout_ms, then every repeat_ms (0: once). Restarting replaces the earlier start.
  void start(std::uint64_t timeout_ms, std::uint64_t repeat_ms = 0) {
    uv_timer_start(&handle_, on_timer, timeout_ms, repeat_ms);
  }
  void stop() { uv_timer_stop(&handle_); }

 private:
  static void on_timer(uv_timer_t* timer) { static_cast<Timer&>(of(timer)).call(); }
};

// Another thread's wake-up: send() from any thread; the loop calls `Member()` once for one or
// more sends.
class Async : public HandleOwner<uv_async_t> {
 public:
  template <auto Member, typename Owner>
  std::error_code init(uv_loop_t* loop, Owner* owner) {
    bind<Member>(owner);
    return initialized(uv_async_init(loop, &handle_, on_async));
  }
  void send() { uv_async_send(&handle_); }

 private:
  static void on_async(uv_async_t* async) { static_cast<Async&>(of(async)).call(); }
};

// A signal, delivered on the loop: calls `Member(signum)`.
class Signal : public HandleOwner<uv_signal_t, int> {
 public:
  template <auto Member, typename Owner>
  std::error_code init(uv_loop_t* loop, Owner* owner) {
    bind<Member>(owner);
    return initialized(uv_signal_init(loop, &handle_));
  }
  std::error_code start(int signum) { return error(uv_signal_start(&handle_, on_signal, signum)); }

 private:
  static void on_signal(uv_signal_t* signal, int signum) {
    static_cast<Signal&>(of(signal)).call(signum);
  }
};

// Readiness of a socket libuv does not own (a listening socket, libcurl's): calls
// `Member(error, events)` with UV_READABLE / UV_WRITABLE bits.
class Poll : public HandleOwner<uv_poll_t, std::error_code, int> {
 public:
  template <auto Member, typename Owner>
  std::error_code init(uv_loop_t* loop, Owner* owner, int fd) {
    bind<Member>(owner);
    return initialized(uv_poll_init_socket(loop, &handle_, fd));
  }
  std::error_code start(int events) { return error(uv_poll_start(&handle_, events, on_poll)); }
  void stop() { uv_poll_stop(&handle_); }

 private:
  static void on_poll(uv_poll_t* poll, int status, int events) {
    static_cast<Poll&>(of(poll)).call(error(status), events);
  }
};

// A job for libuv's thread pool: Run() of the owner there, then Done(error) back on the loop
// (UV_ECANCELED: cancelled before it started). One at a time.
class Work {
 public:
  template <auto Run, auto Done, typename Owner>
  std::error_code queue(uv_loop_t* loop, Owner* owner) {
    owner_ = owner;
    run_ = [](void* self) { (static_cast<Owner*>(self)->*Run)(); };
    done_ = [](void* self, std::error_code error) { (static_cast<Owner*>(self)->*Done)(error); };
    request_.data = this;
    return error(uv_queue_work(loop, &request_, work_cb, after_cb));
  }
  // Cancels it if the pool has not started it (Done then hears UV_ECANCELED).
  void cancel() { uv_cancel(reinterpret_cast<uv_req_t*>(&request_)); }

 private:
  // libuv callbacks
  static void work_cb(uv_work_t* request) {
    Work& self = *static_cast<Work*>(request->data);
    self.run_(self.owner_);
  }
  static void after_cb(uv_work_t* request, int status) {
    Work& self = *static_cast<Work*>(request->data);
    self.done_(self.owner_, error(status));
  }

  uv_work_t request_{};
  void* owner_ = nullptr;
  void (*run_)(void*) = nullptr;
  void (*done_)(void*, std::error_code) = nullptr;
};

}  // namespace ringcast::uv
