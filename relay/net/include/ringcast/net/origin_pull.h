// An edge's pull of one mount from its origins: the libuv layer under PullMachine
// (pull_machine.h decides; this applies). An attempt resolves, connects, sends an ordinary
// listener request (Icy-MetaData: 1, the relay chain) and reads the answer's head; once the
// origin says 200, the socket becomes a source Connection of this loop whose SourceSession
// receives the body straight into the mount's ring, exactly as a broadcaster's. Owned by the
// worker loop that started it, ticked by that loop's sweep.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ringcast/edge/edge.h"
#include "ringcast/edge/pull_machine.h"

struct addrinfo;

namespace ringcast::relay {

class Connection;
class Stream;
class Worker;

class OriginPull {
 public:
  struct Options {
    std::string mount;               // the local mount
    std::string remote_path;         // the origin's mount ("": the same as `mount`)
    std::vector<OriginUrl> origins;  // in order of preference
    std::string chain;               // the X-Ringcast-Relay value to send
    PullSettings settings;
  };

  OriginPull(Worker& worker, Options options);
  ~OriginPull();
  OriginPull(const OriginPull&) = delete;
  OriginPull& operator=(const OriginPull&) = delete;

  void start(std::uint64_t now_ms);
  // The worker's sweep: timeouts, stalls, linger, the preferred origin's retries.
  void on_sweep(std::uint64_t now_ms);
  // The feed's connection closed (the origin ended, reset or stalled it). From SourceSession.
  void feed_lost();
  // Ends the pull (shutdown): closes its connections.
  void stop();
  // Stopped: the worker frees it at its next sweep.
  bool finished() const { return machine_.phase() == PullMachine::Phase::stopped; }
  const std::string& mount() const { return options_.mount; }

 private:
  struct Attempt;

  void apply(const PullMachine::Actions& actions);
  void open_attempt(std::size_t origin, bool probe);
  void drop(Attempt*& attempt);
  // libuv's answers to an attempt (each returns at once when the attempt was given up).
  void on_resolved(Attempt& attempt, std::error_code error, const ::addrinfo* result);
  void on_connected(Attempt& attempt, std::error_code error);
  void on_read(Attempt& attempt, std::error_code error, std::size_t n);
  // The attempt ended without a feed: `status` is the origin's answer (0: none), `why` for the log.
  void attempt_failed(Attempt& attempt, int status, std::string_view why);
  // The origin answered 200: the mount is attached and the socket becomes its source.
  void take_feed(Attempt& attempt);
  void close_feed(std::string_view why);
  void answer_waiters(int status);
  void publish_state(std::uint64_t now_ms);

  Worker& worker_;
  Options options_;
  PullMachine machine_;
  Attempt* attempt_ = nullptr;      // connecting, or reading the answer's head
  Attempt* probe_ = nullptr;        // a more preferred origin, tried while streaming
  Connection* feed_ = nullptr;      // while streaming
  std::shared_ptr<Stream> stream_;  // once attached: the local mount
};

}  // namespace ringcast::relay
