// A worker: one event loop on its own thread, owning a share of the connections (sources and
// viewers of any mount). Other threads reach it only through its inbox.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "ringcast/core/config.h"
#include "ringcast/core/deadline_wheel.h"
#include "ringcast/net/loop_event.h"
#include "ringcast/net/loop_inbox.h"
#include "ringcast/http/router.h"
#include "ringcast/net/stats.h"
#include "ringcast/uv/handles.h"
#include "ringcast/uv/loop.h"

namespace ringcast::relay {

struct HlsPath;

struct Refused;
class AuthClient;
class AdminActions;
class Authenticator;
class Connection;
class MasterPoller;
class OriginPull;
struct RelayMountChanges;
struct PendingOrigin;
class Relay;
class SourceSession;
class Stream;
struct RequestHead;

class Worker final : public LoopHost {
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
  // After join(): the loop closed with every handle closed (uv_loop_close returned 0).
  bool closed_clean() const { return closed_clean_; }

  std::size_t index() const override { return index_; }
  LoopInbox<LoopEvent>& inbox() { return inbox_; }
  const WorkerCounters& counters() const { return counters_; }

  // --- on this worker's thread ---
  void post_to(std::size_t worker, LoopEvent&& event) override;
  LoopLoad load() const override;
  std::uint64_t now_us() const override { return uv::Loop::now_ns() / 1000; }
  std::uint64_t now_unix_ms() const override;
  void schedule_tick(std::shared_ptr<Stream> stream, std::uint64_t due_us) override;
  void resume_sources(const Stream* stream) override;
  void note_period(std::uint64_t period_us) override {
    if (period_us > longest_period_us_) longest_period_us_ = period_us;
  }
  void handle_request(Connection& connection, RequestHead& head, std::string_view early_body);
  void connection_closed(Connection& connection);
  // The connection's state or a deadline of it changed: the next sweep looks at it again.
  void recheck(Connection& connection);
  void viewer_joined();
  void viewer_left();
  void source_paused(SourceSession& source);
  void source_gone(SourceSession& source);
  void source_detached(Stream& stream);
  const RelayConfig& config() const;
  WorkerCounters& counters() { return counters_; }
  uv_buf_t discard_buffer() { return uv_buf_init(discard_.get(), kDiscardBytes); }
  // Where a connection reads the first bytes of its request head: one buffer for the loop, so a
  // connection owns head bytes only when its head does not come whole (Connection::on_head_bytes).
  // Valid until the next call; nothing reads into it while a read callback uses it.
  uv_buf_t head_scratch(std::size_t capacity);
  Relay& relay() { return relay_; }
  Authenticator& auth() { return *auth_; }
  // This loop's connections (admin tasks walk them).
  const std::unordered_set<Connection*>& connections() const { return connections_; }
  void post_to_main(LoopEvent&& event);
  // Every loop's inbox, this one's included.
  void post_to_all(const LoopEvent& event);
  // A listener's or a source's request, routed here or allowed by the authenticator
  // (`authenticated`): admission decides (admission.h), these carry the decision out.
  void handle_viewer(Connection& connection, RequestHead& head, bool authenticated = false);
  void handle_source(Connection& connection, RequestHead& head, std::string_view early_body,
                     bool authenticated = false);

  // --- relay trees (origin_pull.h) ---
  uv_loop_t* loop() { return loop_.get(); }
  // A connected socket (an edge's pull, once its origin said 200) becomes a Connection here.
  // Null (fd closed) when no handle could be made.
  Connection* adopt_socket(int fd);
  // Every loop's listeners waiting for `mount` hear the pull's answer.
  void post_origin_answer(const std::string& mount, int status);
  // The connection waiting for an origin's answer closed.
  void cancel_origin_wait(PendingOrigin& pending);
  // A master's list changed: its new mounts are pulled (always-on ones start now, spread over
  // the loops), the ones that went stop wherever they run.
  void apply_master_changes(const RelayMountChanges& changes, bool on_demand);
  AuthClient& http_client();

 private:
  static constexpr unsigned kDiscardBytes = 16 * 1024;

  void run();
  void on_event(LoopEvent& event);
  void on_accepted_fd(int fd, std::uint64_t flags);
  void on_sweep();
  // A connection whose deadline came: closed if its time is up, else put back on the wheel
  // for its next one.
  void check_deadline(Connection& connection, std::uint64_t now_ms);
  void sample_busy();
  void on_tick_timer();
  void arm_tick_timer();
  void drain();
  void stop();
  void maybe_drained();
  // The first live mount down `mount`'s fallback chain (null: none).
  std::shared_ptr<Stream> live_fallback_stream(const std::string& mount);
  // This loop's viewers of `from` (or, home_only, those whose own mount is target's) move.
  void move_viewers(const Stream* from, const std::shared_ptr<Stream>& target, bool home_only);
  // A request the router found HLS-shaped: 400 for a bad name, 404 without the mount, else
  // handle_hls.
  void handle_hls_request(Connection& connection, const RequestHead& head);
  // HLS of an MPEG-TS mount: the playlist, or a segment served from the ring (hls.h).
  void handle_hls(Connection& connection, const RequestHead& head, const std::shared_ptr<Stream>& stream,
                  const HlsPath& hls);
  // A refusal admission decided: its counter, its log line ("<who> refused for <path>"), its
  // answer (a 401 is a challenge in `realm`).
  void refuse(Connection& connection, std::string_view who, std::string_view path, const Refused& refused,
              std::string_view realm = {});
  // An edge lacks `mount` (or has it without a source: present): pull it from the origins,
  // holding the request until the pull's first answer when the mount is not here at all.
  // True when the request was held or answered.
  bool pull_from_origin(Connection& connection, const RequestHead& head, const std::string& mount, bool present);
  void on_origin_answer(const std::string& mount, int status);
  // An always-on pull (a static relay), unless one pulls the mount already.
  void start_static_pull(const std::string& mount);
  // The client a trusted proxy names in Forwarded or X-Forwarded-For becomes the connection's
  // address (forwarded.h: the right-most untrusted hop).
  void take_forwarded_client(Connection& connection, const RequestHead& head);

  Relay& relay_;
  const std::size_t index_;
  uv::Loop loop_;
  LoopInbox<LoopEvent> inbox_;
  std::vector<moodycamel::ProducerToken> tokens_;  // to each worker's inbox; this thread only
  std::optional<moodycamel::ProducerToken> main_token_;  // to the main loop's inbox
  uv::Timer sweep_timer_;
  uv::Timer tick_timer_;  // fires for the earliest lane tick in ticks_
  std::thread thread_;
  bool closed_clean_ = false;  // the loop closed with no handle open (once its thread is done)

  std::unordered_set<Connection*> connections_;
  // Every connection, filed by when its state next needs a look (a head or admin timeout, a
  // source's silence, a viewer's stall or time limit, a linger's end): the sweep visits only
  // those whose time has come, not all of them four times a second.
  DeadlineWheel<Connection> deadlines_;
  std::vector<SourceSession*> paused_sources_;
  // Lanes' ticks, a min-heap by due time; a lane keeps at most one live entry (Stream::on_tick
  // ignores superseded ones). Capacity is kept: no allocation per tick once warm.
  struct Tick {
    std::uint64_t due_us;
    std::shared_ptr<Stream> stream;
    bool operator>(const Tick& other) const { return due_us > other.due_us; }
  };
  std::vector<Tick> ticks_;
  std::uint64_t timer_due_us_ = 0;  // when tick_timer_ fires (0: stopped)
  std::uint64_t longest_period_us_ = 0;  // since the last busy sample
  double busy_ = 0;                  // the loop's busy fraction, smoothed over sweeps
  std::uint64_t busy_sample_ns_ = 0;  // when, and the loop's idle time then
  std::uint64_t idle_sample_ns_ = 0;
  std::uint64_t next_connection_id_ = 1;
  bool draining_ = false;
  bool drained_reported_ = false;
  WorkerCounters counters_;
  std::unique_ptr<char[]> discard_;
  std::unique_ptr<char[]> head_scratch_;
  std::size_t head_scratch_capacity_ = 0;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<AdminActions> admin_;
  std::unique_ptr<MasterPoller> master_poller_;  // worker 0 of a slave ([master])
  std::size_t next_pull_loop_ = 0;                // where the next master mount's pull starts
  std::vector<std::unique_ptr<OriginPull>> pulls_;  // this loop's; freed by the sweep once stopped
  std::multimap<std::string, std::shared_ptr<PendingOrigin>, std::less<>> origin_waiters_;
};

}  // namespace ringcast::relay
