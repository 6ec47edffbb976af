// The relay: the worker loops, the acceptor that hands them connections, the mount registry,
// and the main loop's signals and housekeeping (grace periods, ingest rates, shutdown).
// One acceptor dealing sockets in turn balanced a 1,000-connection storm exactly (501/501 on
// two workers); per-worker SO_REUSEPORT listeners drifted by up to 3% (docs/benchmarks.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ringcast/ops/access_log.h"
#include "ringcast/core/config.h"
#include "ringcast/edge/edge.h"
#include "ringcast/http/forwarded.h"
#include "ringcast/net/origin_pull.h"
#include "ringcast/radio/icecast_admin.h"
#include "ringcast/net/stats.h"
#include "ringcast/ops/stats_history.h"
#include "ringcast/net/stream_registry.h"
#include "ringcast/net/worker.h"
#include "ringcast/uv/handles.h"
#include "ringcast/uv/loop.h"

namespace ringcast::relay {

// Milliseconds on one monotonic clock shared by every thread.
std::uint64_t monotonic_ms();
// Milliseconds since the Unix epoch (for logs and the admin API).
std::uint64_t unix_ms();

// What SIGHUP reloads: passwords and per-mount settings. Read when a request is routed (never
// per chunk) through a shared_ptr swapped under a mutex.
struct AccessPolicy {
  std::string source_password;
  std::string admin_password;
  std::string admin_user;
  std::string relay_user;
  std::string relay_password;
  std::string realm;
  std::map<std::string, MountSettings> mounts;

  const MountSettings* mount(const std::string& path) const {
    const auto found = mounts.find(path);
    return found == mounts.end() ? nullptr : &found->second;
  }
  // The password of a mount's sources: its own (`settings` may be null), else the relay's.
  const std::string& source_password_for(const MountSettings* settings) const {
    return settings && settings->source_password ? *settings->source_password : source_password;
  }
};

// What a master's new list changed.
struct RelayMountChanges {
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

// Re-reads the configuration for SIGHUP; false (and `error`) when it is invalid.
using ReloadConfig = std::function<bool(RelayConfig& fresh, std::string& error)>;

class Relay {
 public:
  Relay(uv_loop_t* main_loop, RelayConfig config);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Binds, starts the workers, arms signals and housekeeping. An error: it could not bind (or
  // open the access log), and has stopped.
  std::error_code start();
  // Stops accepting, closes every connection, then the workers; uv_run(main) then returns.
  void stop();
  // SIGTERM with a drain period (--drain): new listeners and sources get 503 and /health 503
  // from now on; the present listeners keep listening until they have all left or the period
  // is over, then stop(). Without a drain period, or a second time: stop() at once.
  void drain();
  // Any thread: whether the relay is draining (workers refuse new listeners and sources).
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  std::uint16_t bound_port() const { return bound_port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  void set_reloader(ReloadConfig reloader) { reloader_ = std::move(reloader); }
  // Main thread (SIGHUP): reloads passwords and mounts, reopens the access log.
  void reload();
  std::shared_ptr<const AccessPolicy> policy() const;
  AccessLog& access_log() { return access_log_; }

  const RelayConfig& config() const { return config_; }
  // config().trusted_proxies, parsed once at start.
  const AddressSet& trusted_proxies() const { return trusted_proxies_; }
  StreamRegistry& registry() { return registry_; }
  std::size_t worker_count() const { return workers_.size(); }
  // Once stopped and its main loop's uv_run returned: every worker's loop closed with no handle
  // left open.
  bool loops_closed_clean() const;
  // The load every loop's lanes scale their writes by: the loops share the machine's cores,
  // so the relay-wide audience and the busiest loop's share, not one loop's own.
  LoopLoad shared_load() const;
  // Viewers connected on every loop.
  std::size_t viewers_connected() const;
  // Those, and HLS sessions seen lately.
  std::size_t listeners_present() const;
  LoopInbox<LoopEvent>& worker_inbox(std::size_t worker) { return workers_[worker]->inbox(); }
  // The main loop's inbox: admin tasks that render the operators' pages (/stats, /metrics).
  LoopInbox<LoopEvent>& main_inbox() { return main_inbox_; }
  std::string stats_json() const;
  std::string metrics_text() const;
  // Icecast's /status-json.xsl; host_header: the request's Host (its listen URLs use it).
  std::string status_json(std::string_view host_header) const;
  // Icecast's admin documents (icecast_admin.h); `mount` non-empty narrows /admin/stats to it.
  std::string admin_stats_xml(std::string_view host_header, const std::string& mount) const;
  std::string list_mounts_xml() const;
  std::string stream_list_text() const;
  // What the Icecast documents share: the host clients named, the server, the live mounts.
  std::string listen_host(std::string_view host_header) const;
  IcecastServerInfo server_info(const std::string& host) const;
  std::vector<IcecastAdminSource> icecast_sources(const std::string& host) const;
  std::string stats_history_json() const { return history_.render_json(); }
  // Any worker thread: an accepted connection is gone (the limit counts it no more).
  void connection_closed();
  // Any worker thread: a connection this relay opened (an edge's pull) counts too.
  void connection_opened() { open_connections_.fetch_add(1); }

  // Relay trees (origin_pull.h): this relay's id in relay chains, its pulls, and whether and
  // how a mount it lacks is pulled.
  const std::string& relay_id() const { return relay_id_; }
  EdgeDirectory& edge() { return edge_; }
  const EdgeDirectory& edge() const { return edge_; }
  // Whether a request for `mount`, which is not here, is pulled: an edge pulls every mount,
  // else a static relay (config [[relays]]) its own.
  bool relays_mount(const std::string& mount) const;
  // A slave (config [master]): the master's mounts as last listed; what appeared and what went.
  RelayMountChanges set_master_mounts(std::vector<std::string> mounts);
  // Main thread: `worker` starts an always-on pull of `mount` (a static relay, a master's mount).
  void start_pull(const std::string& mount, std::size_t worker);
  // `chain`: the relay chain of the request that asked (empty for none).
  OriginPull::Options pull_options(const std::string& mount, const RelayChain& chain) const;
  // Any worker thread: it has no connections left after a drain.
  void worker_drained();

 private:
  void on_main_event(LoopEvent& event);
  bool relays_master_mount(const std::string& mount) const;
  std::error_code open_listening_socket(const std::string& host, std::uint16_t port, int& fd, std::uint16_t& bound);
  void on_acceptable(int listen_fd, bool admin);
  void on_housekeeping();
  // Users files that changed on disk since they were read are read again (no SIGHUP needed):
  // the policy is swapped with the new users; a file that no longer parses keeps the old ones.
  void reload_changed_users_files();
  void on_all_drained();
  StatsInput stats_input() const;

  // The handles' events (ringcast/uv/handles.h)
  void on_listener_ready(std::error_code error, int events);
  void on_admin_listener_ready(std::error_code error, int events);
  void on_accept_pause_over();
  void on_signal(int signum);
  void on_drain_timeout();

  uv_loop_t* main_loop_;
  RelayConfig config_;
  AddressSet trusted_proxies_;
  std::vector<OriginUrl> origins_;  // config_.relay_origins, parsed once at start
  struct ParsedStaticRelay {
    OriginUrl origin;  // without its path
    std::string remote_mount;
    bool on_demand = false;
  };
  std::map<std::string, ParsedStaticRelay, std::less<>> static_relays_;  // by local mount
  std::optional<OriginUrl> master_;  // config_.master's address, parsed once at start
  mutable std::mutex master_mutex_;
  std::set<std::string, std::less<>> master_mounts_;  // as last listed (guarded by master_mutex_)
  std::string relay_id_;
  EdgeDirectory edge_;
  StreamRegistry registry_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<moodycamel::ProducerToken> tokens_;  // main thread's, to each worker's inbox
  LoopInbox<LoopEvent> main_inbox_;
  int listen_fd_ = -1;
  uv::Poll acceptor_;
  int admin_fd_ = -1;  // --admin-listen
  uv::Poll admin_acceptor_;
  std::uint16_t admin_port_ = 0;
  uv::Timer housekeeping_;
  uv::Timer accept_pause_;  // restarts accepting after running out of descriptors
  uv::Signal sigint_;
  uv::Signal sigterm_;
  uv::Signal sighup_;
  uv::Timer drain_timer_;  // ends a drain that listeners outlast
  std::atomic<bool> draining_{false};
  ReloadConfig reloader_;
  mutable std::mutex policy_mutex_;
  std::shared_ptr<const AccessPolicy> policy_;
  // Users files by path: their modification time and size when last read (main loop only).
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> users_file_stamps_;
  std::uint64_t housekeeping_ticks_ = 0;
  AccessLog access_log_;
  uv::Async drained_async_;
  std::atomic<std::size_t> drained_workers_{0};
  std::atomic<std::size_t> open_connections_{0};  // for --max-connections
  std::uint16_t bound_port_ = 0;
  std::size_t next_worker_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  std::uint64_t started_ms_ = 0;
  std::uint64_t started_unix_ms_ = 0;
  LoopLag main_loop_lag_;  // its gauge is read by /metrics on worker threads
  EndedTotals ended_;
  StatsHistory history_;  // sampled by on_housekeeping, read by /stats/history
  HistorySample history_sample_;  // on_housekeeping's, reused
};

}  // namespace ringcast::relay
