// A worker: one event loop on its own thread, owning a share of the connections (sources and
// viewers of any mount). Other threads reach it only through its inbox.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ringcast/relay/config.h"
#include "ringcast/relay/loop_inbox.h"
#include "ringcast/relay/stats.h"

namespace ringcast::relay {

struct AdminTask;
class Connection;
class Relay;
class SourceSession;
class Stream;
struct RequestHead;

// LoopEvent::position flags of an accept event.
inline constexpr std::uint64_t kAcceptOverLimit = 1;  // answer 503 (--max-connections)
inline constexpr std::uint64_t kAcceptAdmin = 2;      // accepted on the admin listener

struct LoopEvent {
  enum class Kind : std::uint8_t {
    none,
    accept,         // fd: a connection accepted by the acceptor, now this loop's
    commit,         // stream: new bytes for this loop's lane
    make_room,      // stream, position: the writer needs memory up to position; evict below it
    resume_source,  // stream: room was made, the paused source may read again
    stream_ended,   // stream: grace is over; finish this lane's viewers
    admin_task,     // task: run an admin task here (list or kick)
    admin_done,     // task: every loop ran it; answer the client that asked
    drain,          // shutdown, phase 1: close every connection
    stop,           // shutdown, phase 2: close the loop's handles
  };
  LoopEvent() = default;
  LoopEvent(Kind kind_, int fd_ = -1, std::shared_ptr<Stream> stream_ = {}, std::uint64_t position_ = 0,
            std::shared_ptr<AdminTask> task_ = {})
      : kind(kind_), fd(fd_), stream(std::move(stream_)), position(position_), task(std::move(task_)) {}

  Kind kind = Kind::none;
  int fd = -1;
  std::shared_ptr<Stream> stream;
  std::uint64_t position = 0;
  std::shared_ptr<AdminTask> task;
};

// /, /stats, /stats/..., /metrics, /admin and /admin/...: the operators' pages.
bool is_operator_path(std::string_view path);

class Worker {
 public:
  // Runs on the main thread: the loop and its handles are made here, before the thread starts.
  Worker(Relay& relay, std::size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Main thread, after every worker exists: tokens to post into every inbox from this loop.
  void make_tokens(std::vector<std::unique_ptr<Worker>>& workers);
  void start();
  void join();

  std::size_t index() const { return index_; }
  LoopInbox<LoopEvent>& inbox() { return inbox_; }
  const WorkerCounters& counters() const { return counters_; }

  // --- on this worker's thread ---
  void post_to(std::size_t worker, LoopEvent&& event);
  void handle_request(Connection& connection, RequestHead& head, std::string_view early_body);
  void connection_closed(Connection& connection);
  void viewer_joined(const std::shared_ptr<Stream>& stream);
  void viewer_left(const std::shared_ptr<Stream>& stream);
  void source_paused(SourceSession& source);
  void source_gone(SourceSession& source);
  void source_detached(Stream& stream);
  std::uint32_t delay_ms() const;
  const RelayConfig& config() const;
  WorkerCounters& counters() { return counters_; }
  uv_buf_t discard_buffer() { return uv_buf_init(discard_.get(), kDiscardBytes); }
  Relay& relay() { return relay_; }

 private:
  static constexpr unsigned kDiscardBytes = 16 * 1024;

  void run();
  void on_event(LoopEvent& event);
  void on_accepted_fd(int fd, std::uint64_t flags);
  void on_sweep();
  void sample_busy();
  void on_flush_tick();
  void drain();
  void stop();
  void maybe_drained();
  void resume_sources(const Stream* stream);
  void handle_source(Connection& connection, RequestHead& head, std::string_view early_body);
  void handle_viewer(Connection& connection, RequestHead& head);
  // The operators' surface (worker_admin.cpp); is_operator_path() names its paths.
  void handle_operator(Connection& connection, RequestHead& head);
  bool admin_authorized(Connection& connection, const RequestHead& head);
  void handle_admin(Connection& connection, const RequestHead& head);
  void run_admin_task(AdminTask& task);
  void answer_admin(AdminTask& task);

  // libuv callbacks
  static void sweep_cb(uv_timer_t* timer);
  static void flush_cb(uv_timer_t* timer);

  Relay& relay_;
  const std::size_t index_;
  uv_loop_t loop_{};
  LoopInbox<LoopEvent> inbox_;
  std::vector<moodycamel::ProducerToken> tokens_;  // to each worker's inbox; this thread only
  uv_timer_t sweep_timer_{};
  uv_timer_t flush_timer_{};
  std::thread thread_;

  std::unordered_set<Connection*> connections_;
  struct ActiveStream {
    std::shared_ptr<Stream> stream;
    std::size_t viewers = 0;
  };
  std::unordered_map<const Stream*, ActiveStream> active_streams_;  // streams with our viewers
  std::vector<SourceSession*> paused_sources_;
  std::vector<std::shared_ptr<Stream>> flush_walk_;  // on_flush_tick's copy of active_streams_
  std::size_t audience_ = 0;
  double busy_ = 0;                  // the loop's busy fraction, smoothed over sweeps
  std::uint64_t busy_sample_ns_ = 0;  // when, and the loop's idle time then
  std::uint64_t idle_sample_ns_ = 0;
  std::uint64_t next_connection_id_ = 1;
  bool draining_ = false;
  bool drained_reported_ = false;
  WorkerCounters counters_;
  std::unique_ptr<char[]> discard_;
};

}  // namespace ringcast::relay
