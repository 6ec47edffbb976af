// The main loop: binds, hands accepted sockets to the workers in turn, ends mounts whose grace
// is over, samples ingest rates, and shuts down in two phases (drain every connection, then
// stop every loop).
#include "ringcast/net/relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <random>

#include "admin_task.h"
#include "ringcast/auth/auth.h"
#include "ringcast/config/config_file.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/radio/icecast_admin.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/core/version.h"

namespace ringcast::relay {

namespace {
constexpr std::uint64_t kHousekeepingMs = 250;
constexpr std::uint64_t kAcceptPauseMs = 100;
}  // namespace

std::uint64_t monotonic_ms() { return uv::Loop::now_ns() / 1'000'000; }

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

namespace {
std::shared_ptr<const AccessPolicy> make_policy(const RelayConfig& config) {
  auto policy = std::make_shared<AccessPolicy>();
  policy->source_password = config.source_password;
  policy->admin_password = config.admin_password;
  policy->admin_user = config.admin_user;
  policy->relay_user = config.relay_user;
  policy->relay_password = config.relay_password;
  policy->realm = config.realm;
  policy->mounts = config.mounts;
  return policy;
}
}  // namespace

Relay::Relay(uv_loop_t* main_loop, RelayConfig config)
    : main_loop_(main_loop),
      config_(std::move(config)),
      trusted_proxies_(AddressSet::parse(config_.trusted_proxies, nullptr).value_or(AddressSet{})),
      registry_(config_, config_.workers == 0 ? 1 : config_.workers),
      policy_(make_policy(config_)) {
  if (config_.workers == 0) config_.workers = 1;
  for (const auto& text : config_.relay_origins) {
    if (auto origin = parse_origin_url(text)) origins_.push_back(std::move(*origin));  // checked when read
  }
  for (const auto& relay : config_.relays) {
    auto url = parse_origin_url(relay.url);  // checked when read
    if (!url) continue;
    ParsedStaticRelay parsed{*url, url->path, relay.on_demand};
    parsed.origin.path.clear();
    static_relays_.emplace(relay.mount, std::move(parsed));
  }
  if (config_.master) master_ = parse_origin_url(config_.master->url);  // checked when read
  if (master_) master_->path.clear();
  // A relay's id only has to differ from the other relays of a tree: 64 random bits.
  std::random_device random;
  relay_id_ = fmt::format("{:08x}{:08x}", random(), random());
}

bool Relay::relays_master_mount(const std::string& mount) const {
  std::lock_guard lock(master_mutex_);
  return master_mounts_.contains(mount);
}

bool Relay::relays_mount(const std::string& mount) const {
  if (!origins_.empty() || static_relays_.contains(mount)) return true;
  return master_ && relays_master_mount(mount);
}

RelayMountChanges Relay::set_master_mounts(std::vector<std::string> mounts) {
  std::set<std::string, std::less<>> listed(mounts.begin(), mounts.end());
  // A static relay's mount is its own: the master's entry of the same name does not replace it.
  std::erase_if(listed, [&](const std::string& mount) { return static_relays_.contains(mount); });
  RelayMountChanges changes;
  std::lock_guard lock(master_mutex_);
  std::set_difference(listed.begin(), listed.end(), master_mounts_.begin(), master_mounts_.end(),
                      std::back_inserter(changes.added));
  std::set_difference(master_mounts_.begin(), master_mounts_.end(), listed.begin(), listed.end(),
                      std::back_inserter(changes.removed));
  master_mounts_ = std::move(listed);
  return changes;
}

void Relay::start_pull(const std::string& mount, std::size_t worker) {
  LoopEvent event(LoopEvent::Kind::start_pull);
  event.name = std::make_shared<const std::string>(mount);
  workers_[worker]->inbox().post(tokens_[worker], std::move(event));
}

OriginPull::Options Relay::pull_options(const std::string& mount, const RelayChain& chain) const {
  OriginPull::Options options;
  options.mount = mount;
  options.chain = chain.extended_by(relay_id_);
  if (const auto relay = static_relays_.find(mount); relay != static_relays_.end()) {
    options.origins = {relay->second.origin};
    options.remote_path = relay->second.remote_mount;
    options.settings.on_demand = relay->second.on_demand;
  } else if (master_ && relays_master_mount(mount)) {
    options.origins = {*master_};
    options.settings.on_demand = config_.master->on_demand;
  } else {
    options.origins = origins_;
    options.settings.on_demand = true;
  }
  options.settings.origins = options.origins.size();
  options.settings.linger_ms = config_.relay_linger_ms;
  options.settings.preferred_retry_ms = config_.relay_retry_preferred_ms;
  // An origin that sends nothing is dropped like a quiet source (--source-timeout).
  options.settings.stall_timeout_ms = config_.source_idle_timeout_ms;
  return options;
}

Relay::~Relay() {
  for (auto& worker : workers_) worker->join();
  workers_.clear();
}

std::error_code Relay::open_listening_socket(const std::string& host, std::uint16_t port, int& listen_fd,
                                             std::uint16_t& bound_port) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* in = reinterpret_cast<sockaddr_in*>(&address);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (uv_ip4_addr(host.c_str(), port, in) == 0) {
    length = sizeof(sockaddr_in);
  } else if (uv_ip6_addr(host.c_str(), port, in6) == 0) {
    length = sizeof(sockaddr_in6);
  } else {
    return uv::error(UV_EINVAL);
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return uv::from_errno(errno);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  // Accepted sockets inherit TCP_NODELAY from the listener (Linux): no setsockopt per join.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  // The kernel caps the backlog at net.core.somaxconn (4096 by default): a reconnect storm of
  // thousands waits there while the main loop accepts, instead of having its SYNs dropped.
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const std::error_code error = uv::from_errno(errno);
    ::close(fd);
    return error;
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd = fd;
  return {};
}

std::error_code Relay::start() {
  started_ms_ = monotonic_ms();
  started_unix_ms_ = unix_ms();
  for (std::size_t i = 0; i < config_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
  }
  main_inbox_.open(main_loop_, [this](LoopEvent& event) { on_main_event(event); });
  for (auto& worker : workers_) worker->make_tokens(workers_);
  for (auto& worker : workers_) tokens_.push_back(worker->inbox().make_producer_token());

  std::error_code error = open_listening_socket(config_.listen_host, config_.listen_port, listen_fd_, bound_port_);
  if (!error) error = acceptor_.init<&Relay::on_listener_ready>(main_loop_, this, listen_fd_);
  if (!error) error = acceptor_.start(UV_READABLE);
  if (!error && !config_.admin_listen_host.empty()) {
    error = open_listening_socket(config_.admin_listen_host, config_.admin_listen_port, admin_fd_, admin_port_);
    if (!error) error = admin_acceptor_.init<&Relay::on_admin_listener_ready>(main_loop_, this, admin_fd_);
    if (!error) error = admin_acceptor_.start(UV_READABLE);
    if (!error) spdlog::info("admin interface on http://{}:{}/", config_.admin_listen_host, admin_port_);
  }
  if (!error) {
    if (const std::string problem = access_log_.open(config_.access_log); !problem.empty()) {
      spdlog::error("{}", problem);
      error = uv::error(UV_EINVAL);
    }
  }
  housekeeping_.init<&Relay::on_housekeeping>(main_loop_, this);
  accept_pause_.init<&Relay::on_accept_pause_over>(main_loop_, this);
  drain_timer_.init<&Relay::on_drain_timeout>(main_loop_, this);
  sigint_.init<&Relay::on_signal>(main_loop_, this);
  sigterm_.init<&Relay::on_signal>(main_loop_, this);
  sighup_.init<&Relay::on_signal>(main_loop_, this);
  drained_async_.init<&Relay::on_all_drained>(main_loop_, this);
  for (auto& worker : workers_) worker->start();
  started_ = true;
  if (error) {
    stop();
    return error;
  }
  housekeeping_.start(kHousekeepingMs, kHousekeepingMs);
  // Static relays that are always on start now, spread over the workers.
  std::size_t next = 0;
  for (const auto& [mount, relay] : static_relays_) {
    if (relay.on_demand) continue;
    start_pull(mount, next++ % workers_.size());
  }
  sigint_.start(SIGINT);
  sigterm_.start(SIGTERM);
  sighup_.start(SIGHUP);
  return {};
}

void Relay::on_acceptable(int listen_fd, bool admin) {
  // Accept everything pending; hand each socket to the next worker in turn.
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: the listening socket stays readable, so polling on would spin.
        // Pause accepting; waiting clients stay in the backlog until a descriptor frees.
        spdlog::warn("accept paused for {} ms: {}", kAcceptPauseMs, std::strerror(errno));
        acceptor_.stop();
        if (admin_acceptor_.open()) admin_acceptor_.stop();
        accept_pause_.start(kAcceptPauseMs);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::warn("accept failed: {}", std::strerror(errno));
      }
      return;
    }
    const std::size_t worker = next_worker_;
    next_worker_ = (next_worker_ + 1) % workers_.size();
    // Over the limit the worker answers 503 and closes: the socket still counts until then.
    const bool over_limit = open_connections_.fetch_add(1) >= config_.max_connections;
    const std::uint64_t flags = (over_limit ? kAcceptOverLimit : 0) | (admin ? kAcceptAdmin : 0);
    workers_[worker]->inbox().post(tokens_[worker], LoopEvent{LoopEvent::Kind::accept, fd, nullptr, flags});
  }
}

std::size_t Relay::viewers_connected() const {
  std::size_t viewers = 0;
  for (const auto& worker : workers_) {
    const WorkerCounters& counters = worker->counters();
    viewers += counters.viewers_joined.get() - counters.viewers_left.get();
  }
  return viewers;
}

std::size_t Relay::listeners_present() const {
  std::size_t listeners = viewers_connected();
  // HLS players hold no connection between requests: a session seen lately is a listener.
  const std::uint64_t now = monotonic_ms();
  for (const auto& stream : registry_.snapshot()) listeners += stream->hls_sessions.active(now);
  return listeners;
}

LoopLoad Relay::shared_load() const {
  LoopLoad load{std::max<std::size_t>(viewers_connected(), 1), 0};
  for (const auto& worker : workers_) {
    load.busy = std::max(load.busy, static_cast<double>(worker->counters().busy_permille.get()) / 1000);
  }
  return load;
}

void Relay::on_housekeeping() {
  main_loop_lag_.tick(uv::Loop::now_ns(), kHousekeepingMs);
  const std::uint64_t now = monotonic_ms();
  if (draining_.load() && listeners_present() == 0) {
    spdlog::info("drained: no listener is left");
    stop();
    return;
  }
  if (++housekeeping_ticks_ % 4 == 0) {  // once a second
    reload_changed_users_files();
    // Every mount: ingest rates (measured over a second at least) and HLS sessions that have
    // gone (here, whether or not anyone reads /stats).
    for (auto& stream : registry_.snapshot()) {
      stream->sample_rate(now);
      stream->hls_sessions.prune(now);
    }
  }
  if (history_.due(now)) {
    history_sample(stats_input(), history_sample_);
    history_.record(now, history_sample_);
  }
  for (auto& stream : registry_.take_expired(now, config_.grace_ms)) {
    ended_.streams.add(1);
    ended_.bytes_in.add(stream->bytes_in());
    spdlog::info("{} ended: no source for {} ms; closing {} viewers", stream->mount(),
                 config_.grace_ms, stream->viewer_count());
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->inbox().post(tokens_[i], LoopEvent{LoopEvent::Kind::stream_ended, -1, stream, 0});
    }
  }
}

void Relay::reload_changed_users_files() {
  const auto current = policy();
  std::shared_ptr<AccessPolicy> fresh;
  for (const auto& [mount, settings] : current->mounts) {
    if (!settings.listener_users_file) continue;
    const std::string& path = *settings.listener_users_file;
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) continue;  // gone or unreadable: the users read stay
    const std::pair<std::int64_t, std::int64_t> stamp{
        static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec,
        static_cast<std::int64_t>(status.st_size)};
    const auto known = users_file_stamps_.find(path);
    if (known == users_file_stamps_.end()) {
      users_file_stamps_[path] = stamp;  // first look: as read at load (or at the last SIGHUP)
      continue;
    }
    if (known->second == stamp) continue;
    known->second = stamp;
    auto loaded = load_users_file(path);
    if (auto* problem = std::get_if<std::string>(&loaded)) {
      spdlog::error("users file {} of {} changed but cannot be used ({}): its previous users stay", path, mount,
                    *problem);
      continue;
    }
    if (!fresh) fresh = std::make_shared<AccessPolicy>(*current);
    auto users = std::move(std::get<std::shared_ptr<const UsersFile>>(loaded));
    spdlog::info("users file {} of {} changed: read again, {} users", path, mount, users->users.size());
    fresh->mounts[mount].listener_users = std::move(users);
  }
  if (!fresh) return;
  std::lock_guard lock(policy_mutex_);
  // A SIGHUP in between has its own, freshly read policy: this one would be older.
  if (policy_ == current) policy_ = std::move(fresh);
}

void Relay::stop() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("shutting down");
  acceptor_.close();
  if (listen_fd_ >= 0) ::close(listen_fd_);  // after the poll handle stopped watching it
  listen_fd_ = -1;
  admin_acceptor_.close();
  if (admin_fd_ >= 0) ::close(admin_fd_);
  admin_fd_ = -1;
  housekeeping_.close();
  accept_pause_.close();
  drain_timer_.close();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->inbox().post(tokens_[i], LoopEvent{LoopEvent::Kind::drain, -1, nullptr, 0});
  }
}

void Relay::drain() {
  if (stopping_) return;
  if (config_.drain_ms == 0 || draining_.load()) {
    stop();
    return;
  }
  draining_.store(true);
  spdlog::warn("draining for up to {} ms: new listeners and sources get 503, /health 503; the {} present "
               "listeners keep listening (SIGTERM or SIGINT again stops at once)",
               config_.drain_ms, listeners_present());
  drain_timer_.start(config_.drain_ms);
}

bool Relay::loops_closed_clean() const {
  return std::all_of(workers_.begin(), workers_.end(), [](const auto& worker) { return worker->closed_clean(); });
}

void Relay::connection_closed() { open_connections_.fetch_sub(1); }

void Relay::worker_drained() {
  // Any worker thread; the last one wakes the main loop.
  if (drained_workers_.fetch_add(1) + 1 == workers_.size()) drained_async_.send();
}

void Relay::on_main_event(LoopEvent& event) {
  if (event.kind != LoopEvent::Kind::admin_task) return;
  AdminTask& task = *event.task;
  // A page that cannot be rendered is a 500 for whoever asked, never the end of the relay: an
  // exception here would otherwise leave the loop and take every stream down with it.
  try {
    switch (task.kind) {
      case AdminTask::Kind::render_stats: task.body = stats_json(); break;
      case AdminTask::Kind::render_history: task.body = stats_history_json(); break;
      case AdminTask::Kind::render_metrics: task.body = metrics_text(); break;
      case AdminTask::Kind::render_status_json: task.body = status_json(task.host); break;
      case AdminTask::Kind::render_admin_stats: task.body = admin_stats_xml(task.host, task.mount); break;
      case AdminTask::Kind::render_list_mounts: task.body = list_mounts_xml(); break;
      case AdminTask::Kind::render_stream_list: task.body = stream_list_text(); break;
      default: return;
    }
  } catch (const std::exception& error) {
    spdlog::error("rendering an operators' page failed: {}: 500", error.what());
    task.failed = true;
    task.body.clear();
  }
  const std::size_t origin = task.origin_worker;
  workers_[origin]->inbox().post(tokens_[origin],
                                 LoopEvent{LoopEvent::Kind::admin_done, -1, nullptr, 0, std::move(event.task)});
}

void Relay::on_all_drained() {
  // No connection is left anywhere, so nobody posts any more: the loops can close.
  main_inbox_.close();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->inbox().post(tokens_[i], LoopEvent{LoopEvent::Kind::stop, -1, nullptr, 0});
  }
  for (auto& worker : workers_) worker->join();
  sigint_.close();
  sigterm_.close();
  sighup_.close();
  drained_async_.close();
}

std::shared_ptr<const AccessPolicy> Relay::policy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

void Relay::reload() {
  if (const std::string error = access_log_.reopen(); !error.empty()) spdlog::error("{}", error);
  if (!reloader_) {
    spdlog::info("SIGHUP: access log reopened; no config file to reload");
    return;
  }
  RelayConfig fresh;
  std::string error;
  if (!reloader_(fresh, error)) {
    spdlog::error("SIGHUP: config not reloaded, the running one stays: {}", error);
    return;
  }
  // No password in the file nor on the command line: the one generated at start stays.
  if (fresh.source_password.empty()) fresh.source_password = this->policy()->source_password;
  auto policy = make_policy(fresh);
  const std::size_t mounts = policy->mounts.size();
  {
    std::lock_guard lock(policy_mutex_);
    policy_ = std::move(policy);
  }
  spdlog::info("SIGHUP: reloaded passwords and {} mount section{}; connections kept", mounts,
               mounts == 1 ? "" : "s");
}

StatsInput Relay::stats_input() const {
  const std::uint64_t now = monotonic_ms();
  StatsInput input{{}, main_loop_lag_.lag_us.get(), started_unix_ms_, ended_, registry_.snapshot(),
                   now - started_ms_, std::string(kVersion), now, edge_.snapshot(), relay_id_};
  for (const auto& worker : workers_) input.workers.push_back(&worker->counters());
  return input;
}

std::string Relay::stats_json() const { return render_stats_json(stats_input()); }

std::string Relay::metrics_text() const { return render_metrics_text(stats_input()); }

std::string Relay::listen_host(std::string_view host_header) const {
  // Listen URLs name the host the client used, so a player behind any address can follow them.
  // The Host header is the client's text: PeerText like every other.
  return !host_header.empty() ? PeerText::from(host_header, 256).str()
                              : config_.listen_host + ":" + std::to_string(bound_port_);
}

IcecastServerInfo Relay::server_info(const std::string& host) const {
  IcecastServerInfo server;
  server.host = std::string(host_without_port(host));
  server.server_id = "ringcast " + std::string(kVersion);
  server.server_start_unix_ms = started_unix_ms_;
  server.location = config_.location;
  server.admin = config_.admin_contact;
  return server;
}

std::vector<IcecastAdminSource> Relay::icecast_sources(const std::string& host) const {
  std::vector<IcecastAdminSource> sources;
  const auto policy = this->policy();
  const std::uint64_t now_unix = unix_ms();
  for (const auto& stream : registry_.snapshot()) {
    if (!stream->has_source()) continue;  // Icecast lists live sources only
    const StreamMetadata metadata = stream->metadata();
    IcecastAdminSource admin;
    admin.mount = stream->mount();
    IcecastSource& source = admin.source;
    source.listenurl = "http://" + host + stream->mount();
    source.listeners = stream->viewer_count();
    source.listener_peak = stream->peak_viewers();
    source.server_type = metadata.content_type.str();
    for (const auto& [name, value] : metadata.ice_headers) {
      const std::string icy = icy_header_name(name);
      if (icy == "icy-name") source.server_name = value.str();
      if (icy == "icy-description") source.server_description = value.str();
      if (icy == "icy-genre") source.genre = value.str();
      if (icy == "icy-url") source.server_url = value.str();
      if (icy == "icy-pub") admin.is_public = value.view() == "1";
      if (icy == "ice-audio-info") admin.audio_info = value.str();
    }
    if (const std::uint64_t kbps = declared_kbps(metadata)) source.bitrate = kbps;
    if (const auto title = stream->title()) source.title = title->title.str();
    source.stream_start_unix_ms = metadata.started_unix_ms;
    admin.source_ip = metadata.source_ip;
    admin.user_agent = metadata.user_agent.str();
    admin.slow_listeners = sum_lanes(*stream, &StreamLane::slow_disconnects);
    admin.total_bytes_read = stream->bytes_in();
    admin.total_bytes_sent = sum_lanes(*stream, &StreamLane::bytes_out);
    admin.connected_seconds =
        now_unix > metadata.started_unix_ms ? (now_unix - metadata.started_unix_ms) / 1000 : 0;
    const MountSettings* settings = policy->mount(stream->mount());
    if (settings && settings->max_viewers && *settings->max_viewers != 0) {
      admin.max_listeners = *settings->max_viewers;
    } else if (!(settings && settings->max_viewers) && config_.max_viewers_per_mount != 0) {
      admin.max_listeners = config_.max_viewers_per_mount;
    }
    if (settings && settings->fallback_mount) admin.fallback = *settings->fallback_mount;
    admin.hidden = stream->hidden();
    sources.push_back(std::move(admin));
  }
  return sources;
}

std::string Relay::status_json(std::string_view host_header) const {
  const std::string host = listen_host(host_header);
  std::vector<IcecastSource> sources;
  for (IcecastAdminSource& admin : icecast_sources(host)) {
    if (!admin.hidden) sources.push_back(std::move(admin.source));
  }
  return render_status_json(server_info(host), sources);
}

std::string Relay::admin_stats_xml(std::string_view host_header, const std::string& mount) const {
  const std::string host = listen_host(host_header);
  IcecastGlobals globals;
  globals.server = server_info(host);
  const StatsInput input = stats_input();
  const auto total = [&](Counter WorkerCounters::*counter) { return sum_workers(input.workers, counter); };
  globals.connections = globals.client_connections = total(&WorkerCounters::connections_accepted);
  globals.clients = globals.connections - total(&WorkerCounters::connections_closed);
  globals.listener_connections = total(&WorkerCounters::viewers_joined);
  globals.listeners = globals.listener_connections - total(&WorkerCounters::viewers_left);
  std::vector<IcecastAdminSource> sources = icecast_sources(host);
  globals.sources = sources.size();
  for (const auto& stream : input.streams) globals.source_client_connections += stream->source_connects();
  if (!mount.empty()) std::erase_if(sources, [&](const IcecastAdminSource& s) { return s.mount != mount; });
  return render_admin_stats(globals, sources);
}

std::string Relay::list_mounts_xml() const {
  return render_admin_listmounts(icecast_sources(listen_host({})));
}

std::string Relay::stream_list_text() const {
  std::vector<std::string> mounts;
  for (const IcecastAdminSource& source : icecast_sources(listen_host({}))) {
    if (!source.hidden) mounts.push_back(source.mount);  // hidden mounts are not relayed
  }
  return render_streamlist(std::move(mounts));
}

void Relay::on_listener_ready(std::error_code error, int) {
  if (error) {
    spdlog::warn("listener poll error: {}", error.message());
    return;
  }
  on_acceptable(listen_fd_, false);
}

void Relay::on_admin_listener_ready(std::error_code error, int) {
  if (error) {
    spdlog::warn("admin listener poll error: {}", error.message());
    return;
  }
  on_acceptable(admin_fd_, true);
}

void Relay::on_accept_pause_over() {
  if (stopping_) return;
  acceptor_.start(UV_READABLE);
  if (admin_acceptor_.open()) admin_acceptor_.start(UV_READABLE);
}

void Relay::on_signal(int signum) {
  if (signum == SIGHUP) {
    reload();
    return;
  }
  spdlog::info("signal {} received", signum);
  // Ctrl-C stops at once; SIGTERM (systemd, docker stop, a deploy) drains first.
  if (signum == SIGTERM) {
    drain();
  } else {
    stop();
  }
}

void Relay::on_drain_timeout() {
  spdlog::info("drain period over: stopping");
  stop();
}

}  // namespace ringcast::relay
