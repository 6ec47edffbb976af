// Routing and housekeeping on the relay's event loop: who is a source, who is a viewer, what
// every refusal answers, and the timers that enforce head timeouts, idle sources and grace.
#include "ringcast/relay/server.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <cstring>

#include "ringcast/relay/connection.h"
#include "ringcast/relay/http_request.h"
#include "ringcast/relay/source_session.h"
#include "ringcast/relay/stream.h"
#include "ringcast/relay/version.h"
#include "ringcast/relay/viewer_session.h"

namespace ringcast::relay {

namespace {

constexpr std::uint64_t kSweepIntervalMs = 250;
constexpr std::uint64_t kLingerMs = 2000;
constexpr std::string_view kSourceUser = "source";
constexpr std::string_view kAllowHeader = "Allow: GET, HEAD, PUT, SOURCE\r\n";
constexpr std::string_view kAuthenticateHeader = "WWW-Authenticate: Basic realm=\"ringcast\"\r\n";

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool is_reserved_path(std::string_view path) {
  return path == "/" || path == "/stats" || path == "/metrics" || path == "/favicon.ico";
}

// Icecast's names for the source's ice-* headers as listeners see them.
std::string listener_header_name(std::string_view ice_name) {
  std::string lower(ice_name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "ice-name") return "icy-name";
  if (lower == "ice-genre") return "icy-genre";
  if (lower == "ice-description") return "icy-description";
  if (lower == "ice-url") return "icy-url";
  if (lower == "ice-public") return "icy-pub";
  if (lower == "ice-bitrate") return "icy-br";
  return lower;
}

std::string viewer_response_head(const Stream& stream) {
  std::string head =
      "HTTP/1.0 200 OK\r\nServer: ringcast\r\nContent-Type: " + stream.content_type() +
      "\r\nCache-Control: no-cache, no-store\r\nPragma: no-cache\r\n"
      "Access-Control-Allow-Origin: *\r\nConnection: close\r\n";
  for (const auto& [name, value] : stream.ice_headers()) {
    head += listener_header_name(name) + ": " + value + "\r\n";
  }
  return head + "\r\n";
}

struct StaticWrite {
  uv_write_t request{};
};

// Writes a string with static storage (no copy kept) and frees only the request afterwards.
int write_static(uv_stream_t* stream, std::string_view text) {
  auto* write = new StaticWrite;
  uv_buf_t buffer = uv_buf_init(const_cast<char*>(text.data()), static_cast<unsigned>(text.size()));
  write->request.data = write;
  const int rc = uv_write(&write->request, stream, &buffer, 1, [](uv_write_t* request, int) {
    delete static_cast<StaticWrite*>(request->data);
  });
  if (rc != 0) delete write;
  return rc;
}

}  // namespace

Server::Server(uv_loop_t* loop, RelayConfig config)
    : loop_(loop), config_(std::move(config)), discard_(std::make_unique<char[]>(kDiscardBytes)) {
  listener_.data = this;
  sweep_timer_.data = this;
  flush_timer_.data = this;
  sigint_.data = this;
  sigterm_.data = this;
}

Server::~Server() = default;

int Server::start() {
  started_ms_ = now_ms();
  sockaddr_storage address{};
  int rc = uv_ip4_addr(config_.listen_host.c_str(), config_.listen_port,
                       reinterpret_cast<sockaddr_in*>(&address));
  if (rc != 0) {
    rc = uv_ip6_addr(config_.listen_host.c_str(), config_.listen_port,
                     reinterpret_cast<sockaddr_in6*>(&address));
  }
  if (rc != 0) return rc;
  uv_tcp_init(loop_, &listener_);
  rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, connection_cb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    return rc;
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port_ = ntohs(bound.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  uv_timer_init(loop_, &sweep_timer_);
  uv_timer_start(&sweep_timer_, sweep_cb, kSweepIntervalMs, kSweepIntervalMs);
  uv_timer_init(loop_, &flush_timer_);
  const std::uint64_t tick = std::clamp<std::uint64_t>(config_.fanout.max_delay_ms / 4, 1, 10);
  if (config_.fanout.max_delay_ms > 0) uv_timer_start(&flush_timer_, flush_cb, tick, tick);
  uv_signal_init(loop_, &sigint_);
  uv_signal_start(&sigint_, signal_cb, SIGINT);
  uv_signal_init(loop_, &sigterm_);
  uv_signal_start(&sigterm_, signal_cb, SIGTERM);
  return 0;
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("shutting down: {} connections, {} mounts", connections_.size(), streams_.size());
  for (uv_handle_t* handle :
       {reinterpret_cast<uv_handle_t*>(&listener_), reinterpret_cast<uv_handle_t*>(&sweep_timer_),
        reinterpret_cast<uv_handle_t*>(&flush_timer_), reinterpret_cast<uv_handle_t*>(&sigint_),
        reinterpret_cast<uv_handle_t*>(&sigterm_)}) {
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  // Copy: closing a connection only schedules its removal, but be independent of that.
  const std::vector<Connection*> open(connections_.begin(), connections_.end());
  for (Connection* connection : open) connection->close("relay shutting down");
}

void Server::on_connection(int status) {
  if (status < 0) {
    spdlog::warn("listener error: {}", uv_strerror(status));
    return;
  }
  auto* connection = new Connection(*this, next_connection_id_++, now_ms());
  if (!connection->accept_from(reinterpret_cast<uv_stream_t*>(&listener_))) {
    delete connection;
    return;
  }
  connections_.insert(connection);
  ++counters_.connections_accepted;
  ++counters_.connections_open;
}

void Server::connection_closed(Connection& connection) {
  if (connections_.erase(&connection) > 0) --counters_.connections_open;
  delete &connection;
}

void Server::handle_request(Connection& connection, RequestHead& head, std::string_view early_body) {
  spdlog::debug("{} {} {}", connection.peer(), head.method_name, head.target);
  if (head.http_major != 1) {
    ++counters_.bad_requests;
    connection.respond_and_close(505, "only HTTP/1.x is spoken here\n");
    return;
  }
  switch (head.method) {
    case Method::get:
    case Method::head:
      handle_viewer(connection, head);
      return;
    case Method::put:
    case Method::source:
      handle_source(connection, head, early_body);
      return;
    case Method::other:
      ++counters_.bad_methods;
      spdlog::info("{} method {} not allowed: 405", connection.peer(), head.method_name);
      connection.respond_and_close(405, "use GET to watch, PUT or SOURCE to broadcast\n",
                                   kAllowHeader);
      return;
  }
}

void Server::handle_source(Connection& connection, RequestHead& head, std::string_view early_body) {
  const std::string& mount = head.path;
  if (auto problem = mount_name_problem(mount, config_.max_mount_length);
      problem || is_reserved_path(mount)) {
    ++counters_.bad_requests;
    const std::string why = problem ? std::string(*problem) : "reserved path";
    spdlog::info("{} source refused for {}: {}: 400", connection.peer(), mount, why);
    connection.respond_and_close(400, why + "\n");
    return;
  }
  const auto authorization = head.header("Authorization");
  const auto credentials = authorization ? parse_basic_auth(*authorization) : std::nullopt;
  if (!credentials || !constant_time_equals(credentials->user, kSourceUser) ||
      !constant_time_equals(credentials->password, config_.source_password)) {
    ++counters_.auth_failures;
    spdlog::warn("{} source refused for {}: {}: 401", connection.peer(), mount,
                 authorization ? "wrong credentials" : "no credentials");
    connection.respond_and_close(401, "authentication required\n", kAuthenticateHeader);
    return;
  }
  auto found = streams_.find(mount);
  if (found != streams_.end() && found->second->has_source()) {
    ++counters_.mount_in_use;
    spdlog::info("{} source refused for {}: a source is live there: 403", connection.peer(), mount);
    connection.respond_and_close(403, "mountpoint in use\n");
    return;
  }
  // Icecast 2.4 answers 100 Continue (and nothing more) when asked, else 200 OK.
  const auto expect = head.header("Expect");
  const bool continue_expected = expect && strcasecmp(std::string(*expect).c_str(), "100-continue") == 0;
  const int rc = write_static(connection.stream(), continue_expected
                                                       ? std::string_view("HTTP/1.1 100 Continue\r\n\r\n")
                                                       : std::string_view("HTTP/1.0 200 OK\r\n\r\n"));
  if (rc != 0) {
    connection.close(uv_strerror(rc));
    return;
  }
  const bool resumed = found != streams_.end();
  if (!resumed) {
    found = streams_.emplace(mount, std::make_shared<Stream>(mount, config_)).first;
    found->second->set_audience(audience_);
  }
  std::vector<std::pair<std::string, std::string>> ice_headers;
  for (const auto& [name, value] : head.headers) {
    if (starts_with_ignoring_case(name, "ice-") || starts_with_ignoring_case(name, "icy-")) {
      ice_headers.emplace_back(name, value);
    }
  }
  const std::string content_type(head.header("Content-Type").value_or("audio/mpeg"));
  found->second->attach_source(content_type, std::move(ice_headers));
  spdlog::info("source {} {} {} ({}){}", connection.peer(), resumed ? "resumed" : "started", mount,
               content_type, resumed ? ": viewers continue" : "");
  connection.become_source(std::make_unique<SourceSession>(connection, found->second), early_body,
                           now_ms());
}

void Server::handle_viewer(Connection& connection, RequestHead& head) {
  const std::string& path = head.path;
  if (path == "/stats") {
    connection.respond_ok("application/json", stats_json());
    return;
  }
  if (path == "/") {
    std::string body = "ringcast " + std::string(kVersion) + "\nmounts:\n";
    for (const auto& [mount, stream] : streams_) body += "  " + mount + "\n";
    body += "stats: /stats\n";
    connection.respond_ok("text/plain; charset=utf-8", std::move(body));
    return;
  }
  if (auto problem = mount_name_problem(path, config_.max_mount_length)) {
    ++counters_.bad_requests;
    spdlog::info("{} viewer refused for {}: {}: 400", connection.peer(), path, *problem);
    connection.respond_and_close(400, std::string(*problem) + "\n");
    return;
  }
  const auto found = streams_.find(path);
  if (found == streams_.end()) {
    ++counters_.not_found;
    spdlog::info("{} viewer refused for {}: no such mount: 404", connection.peer(), path);
    connection.respond_and_close(404, "no such mount\n");
    return;
  }
  if (head.method == Method::head) {
    connection.respond_ok(found->second->content_type(), std::string());
    return;
  }
  auto viewer = std::make_unique<ViewerSession>(connection, found->second);
  ViewerSession& session = *viewer;
  connection.become_viewer(std::move(viewer));
  spdlog::info("viewer {} joined {}", connection.peer(), path);
  session.start(viewer_response_head(*found->second), now_ms());
}

void Server::viewer_joined(Stream&) {
  ++audience_;
  update_audience();
}

void Server::viewer_left(Stream&) {
  --audience_;
  update_audience();
}

void Server::update_audience() {
  for (auto& [mount, stream] : streams_) stream->set_audience(audience_);
}

void Server::on_sweep() {
  const std::uint64_t now = now_ms();
  for (Connection* connection : connections_) {
    switch (connection->state()) {
      case Connection::State::reading_head:
        if (now - connection->accepted_ms() >= config_.head_timeout_ms) {
          ++counters_.head_timeouts;
          spdlog::info("{} request head not complete after {} ms: 408", connection->peer(),
                       config_.head_timeout_ms);
          connection->respond_and_close(408, "request head timeout\n");
        }
        break;
      case Connection::State::source:
        if (now - connection->source()->last_data_ms() >= config_.source_idle_timeout_ms) {
          ++counters_.source_idle_timeouts;
          spdlog::warn("source {} on {} sent nothing for {} ms: dropped", connection->peer(),
                       connection->source()->stream().mount(), config_.source_idle_timeout_ms);
          connection->close("source idle");
        }
        break;
      case Connection::State::lingering:
        if (now - connection->lingering_since_ms() >= kLingerMs) connection->close("linger over");
        break;
      case Connection::State::viewer:
      case Connection::State::closed:
        break;
    }
  }
  std::vector<std::string> ended;
  for (auto& [mount, stream] : streams_) {
    stream->sample_rate(now);
    if (!stream->has_source() && now - stream->orphaned_since_ms() >= config_.grace_ms) {
      ended.push_back(mount);
    }
  }
  for (const auto& mount : ended) end_stream(mount);
}

void Server::end_stream(const std::string& mount) {
  const auto found = streams_.find(mount);
  if (found == streams_.end()) return;
  std::shared_ptr<Stream> stream = found->second;
  streams_.erase(found);
  const StreamCounters& s = stream->counters();
  counters_.ended_bytes_in += s.bytes_in;
  counters_.ended_bytes_out += s.bytes_out;
  counters_.ended_skips += s.skips;
  counters_.ended_slow_disconnects += s.slow_disconnects;
  ++counters_.streams_ended;
  spdlog::info("{} ended: no source for {} ms; closing {} viewers", mount, config_.grace_ms,
               stream->viewer_count());
  // Copy: a finishing viewer may leave the stream's list at once.
  const std::vector<ViewerSession*> viewers = stream->viewers();
  for (ViewerSession* viewer : viewers) viewer->finish();
}

void Server::on_flush_tick() {
  const std::uint64_t now = now_ms();
  for (auto& [mount, stream] : streams_) stream->on_flush_tick(now);
}

std::string Server::stats_json() const {
  return render_stats_json({counters_, streams_, now_ms() - started_ms_, std::string(kVersion)});
}

// libuv callbacks

void Server::connection_cb(uv_stream_t* listener, int status) {
  static_cast<Server*>(listener->data)->on_connection(status);
}

void Server::sweep_cb(uv_timer_t* timer) { static_cast<Server*>(timer->data)->on_sweep(); }

void Server::flush_cb(uv_timer_t* timer) { static_cast<Server*>(timer->data)->on_flush_tick(); }

void Server::signal_cb(uv_signal_t* signal, int signum) {
  spdlog::info("signal {} received", signum);
  static_cast<Server*>(signal->data)->stop();
}

}  // namespace ringcast::relay
