// The relay on one event loop: the listener, the mounts, the connections, the timers and the
// request routing. main.cpp only parses flags and runs this.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "ringcast/relay/config.h"
#include "ringcast/relay/stats.h"

namespace ringcast::relay {

class Connection;
class Stream;
struct RequestHead;

class Server {
 public:
  Server(uv_loop_t* loop, RelayConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and arms timers and signal handlers. Returns a libuv error code (0: ok).
  int start();
  // Stops accepting and closes every connection and handle; uv_run then returns.
  void stop();
  std::uint16_t bound_port() const { return bound_port_; }

  // --- called by connections ---
  void handle_request(Connection& connection, RequestHead& head, std::string_view early_body);
  void connection_closed(Connection& connection);
  void viewer_joined(Stream& stream);
  void viewer_left(Stream& stream);
  const RelayConfig& config() const { return config_; }
  RelayCounters& counters() { return counters_; }
  std::uint64_t now_ms() const { return uv_now(loop_); }
  uv_buf_t discard_buffer() { return uv_buf_init(discard_.get(), kDiscardBytes); }
  std::string stats_json() const;

 private:
  static constexpr unsigned kDiscardBytes = 16 * 1024;

  void on_connection(int status);
  void on_sweep();
  void on_flush_tick();
  void handle_source(Connection& connection, RequestHead& head, std::string_view early_body);
  void handle_viewer(Connection& connection, RequestHead& head);
  void end_stream(const std::string& mount);
  void update_audience();

  // libuv callbacks
  static void connection_cb(uv_stream_t* listener, int status);
  static void sweep_cb(uv_timer_t* timer);
  static void flush_cb(uv_timer_t* timer);
  static void signal_cb(uv_signal_t* signal, int signum);

  uv_loop_t* loop_;
  RelayConfig config_;
  uv_tcp_t listener_{};
  uv_timer_t sweep_timer_{};
  uv_timer_t flush_timer_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  std::uint16_t bound_port_ = 0;
  bool stopping_ = false;
  std::uint64_t started_ms_ = 0;
  std::uint64_t next_connection_id_ = 1;
  std::size_t audience_ = 0;

  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::unordered_set<Connection*> connections_;
  RelayCounters counters_;
  std::unique_ptr<char[]> discard_;
};

}  // namespace ringcast::relay
