// The thin libuv layer on a fresh loop, in the style of libuv's own tests: each handle calls its
// owner's member, counters are asserted after uv_run, and uv_loop_close() == 0 proves every
// handle was closed (a handle left open fails the fixture).
#include "ringcast/uv/handles.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <string>
#include <thread>

#include "loop_fixture.h"
#include "ringcast/uv/error.h"
#include "ringcast/uv/loop.h"

using namespace ringcast;

TEST_CASE("libuv's codes become error codes that say what libuv says", "[uv]") {
  CHECK_FALSE(uv::error(0));
  const std::error_code refused = uv::error(UV_ECONNREFUSED);
  CHECK(refused);
  CHECK(refused.value() == UV_ECONNREFUSED);
  CHECK(std::string(refused.category().name()) == "libuv");
  CHECK(refused.message() == uv_strerror(UV_ECONNREFUSED));
  CHECK(uv::error(UV_EOF) != uv::error(UV_ECONNRESET));
}

TEST_CASE("a timer calls its owner's member, once or every period, until stopped and closed",
          "[uv]") {
  Loop fixture;
  struct Owner {
    uv::Timer once;
    uv::Timer repeating;
    int once_calls = 0;
    int repeating_calls = 0;
    void on_once() { ++once_calls; }
    void on_repeat() {
      if (++repeating_calls < 3) return;
      repeating.stop();
      repeating.close();
      once.close();
    }
  } owner;
  REQUIRE_FALSE(owner.once.init<&Owner::on_once>(&fixture.loop, &owner));
  REQUIRE_FALSE(owner.repeating.init<&Owner::on_repeat>(&fixture.loop, &owner));
  CHECK(owner.once.open());
  owner.once.start(1);
  owner.repeating.start(2, 2);
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  CHECK(owner.once_calls == 1);
  CHECK(owner.repeating_calls == 3);
  CHECK_FALSE(owner.once.open());
  owner.once.close();  // idempotent
}

TEST_CASE("an async wakes its loop from another thread, however many times it is sent", "[uv]") {
  Loop fixture;
  struct Owner {
    uv::Async wake;
    // Closes both once the sender is done (never while it may still send) and its sends have
    // woken the loop: libuv runs timers before it polls, so a check that came first could close
    // the async with its wake-up still pending.
    uv::Timer check;
    std::atomic<bool> sender_done{false};
    int calls = 0;
    void on_wake() { ++calls; }
    void on_check() {
      if (!sender_done.load() || calls == 0) return;
      wake.close();
      check.close();
    }
  } owner;
  REQUIRE_FALSE(owner.wake.init<&Owner::on_wake>(&fixture.loop, &owner));
  REQUIRE_FALSE(owner.check.init<&Owner::on_check>(&fixture.loop, &owner));
  owner.check.start(1, 1);
  std::thread sender([&] {
    for (int i = 0; i < 1000; ++i) owner.wake.send();
    owner.sender_done.store(true);
  });
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  sender.join();
  CHECK(owner.calls >= 1);
  CHECK(owner.calls <= 1000);  // sends coalesce
}

TEST_CASE("a poll tells its owner a socket is readable, and an owner can be freed by its close",
          "[uv]") {
  Loop fixture;
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
  static int readable = 0;
  static int freed = 0;
  readable = freed = 0;
  // Made on the heap and dropped from inside its own callback, as the URL authenticator's
  // sockets are: freed only once libuv is done with the handle (ASan would see otherwise).
  struct Watcher {
    uv::Poll poll;
    int fd = -1;
    ~Watcher() { ++freed; }
    void on_ready(std::error_code error, int events) {
      CHECK_FALSE(error);
      if ((events & UV_READABLE) == 0) return;
      char byte = 0;
      CHECK(::read(fd, &byte, 1) == 1);
      ++readable;
      poll.stop();
      poll.close_then_delete<Watcher>();
    }
  };
  auto* watcher = new Watcher;
  watcher->fd = fds[0];
  REQUIRE_FALSE(watcher->poll.init<&Watcher::on_ready>(&fixture.loop, watcher, fds[0]));
  REQUIRE_FALSE(watcher->poll.start(UV_READABLE));
  REQUIRE(::write(fds[1], "x", 1) == 1);
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  CHECK(readable == 1);
  CHECK(freed == 1);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a signal is delivered on the loop to its owner's member, with its number", "[uv]") {
  Loop fixture;
  struct Owner {
    uv::Signal signal;
    int received = 0;
    void on_signal(int signum) {
      received = signum;
      signal.close();
    }
  } owner;
  REQUIRE_FALSE(owner.signal.init<&Owner::on_signal>(&fixture.loop, &owner));
  REQUIRE_FALSE(owner.signal.start(SIGUSR1));
  REQUIRE(::raise(SIGUSR1) == 0);
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  CHECK(owner.received == SIGUSR1);
}

TEST_CASE("work runs on the pool, then its owner hears back on the loop", "[uv]") {
  Loop fixture;
  struct Owner {
    uv::Work work;
    std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id ran_on;
    int done = 0;
    std::error_code result;
    void run() { ran_on = std::this_thread::get_id(); }
    void finished(std::error_code error) {
      ++done;
      result = error;
      CHECK(std::this_thread::get_id() == loop_thread);
    }
  } owner;
  REQUIRE_FALSE(owner.work.queue<&Owner::run, &Owner::finished>(&fixture.loop, &owner));
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  CHECK(owner.done == 1);
  CHECK_FALSE(owner.result);
  CHECK(owner.ran_on != owner.loop_thread);
}

TEST_CASE("a loop says when it closes with a handle still open", "[uv]") {
  uv::Loop loop;
  REQUIRE_FALSE(loop.init(true));
  struct Owner {
    uv::Timer timer;
    void on_timer() {}
  } owner;
  REQUIRE_FALSE(owner.timer.init<&Owner::on_timer>(loop.get(), &owner));
  owner.timer.start(1);
  loop.run();  // the timer fired once; its handle is still open
  CHECK(loop.close() == uv::error(UV_EBUSY));
  owner.timer.close();
  loop.run();  // its close callback
  CHECK_FALSE(loop.close());
  CHECK(uv::Loop::now_ns() > 0);
}
