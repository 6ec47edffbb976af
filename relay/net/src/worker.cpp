// A worker loop: its connections, its share of every mount (a lane), its inbox events, and
// the routing of requests that arrive on its connections.
#include "ringcast/net/worker.h"

#include <spdlog/spdlog.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>

#include "admin_task.h"
#include "pending_auth.h"
#include "ringcast/net/admin_actions.h"
#include "ringcast/net/authenticator.h"
#include "ringcast/admission/admission.h"
#include "ringcast/auth/auth.h"
#include "ringcast/auth/auth_client.h"
#include "ringcast/net/connection.h"
#include "ringcast/edge/edge.h"
#include "ringcast/http/forwarded.h"
#include "ringcast/ops/health.h"
#include "ringcast/video/hls.h"
#include "ringcast/http/http_request.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/net/master_poller.h"
#include "ringcast/net/origin_pull.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/net/relay.h"
#include "ringcast/http/router.h"
#include "ringcast/net/source_session.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/viewer_session.h"

namespace ringcast::relay {

namespace {

constexpr std::uint64_t kSweepIntervalMs = 250;
constexpr std::uint64_t kLingerMs = 2000;
// The deadline wheel spans 64 s of sweeps; a deadline further out is passed over once a turn.
constexpr std::size_t kDeadlineSlots = 256;
// The head of a mount's answer, the same for GET and HEAD: the source's content type and its
// ice-* headers under Icecast's listener names, and icy-metaint for an ICY listener.
Response viewer_response(const StreamMetadata& metadata, std::uint32_t metaint) {
  Response response;
  response.content_type = metadata.content_type.str();
  response.streaming = true;
  response.header("Cache-Control", "no-cache, no-store").header("Pragma", "no-cache");
  for (const auto& [name, value] : metadata.ice_headers) {
    std::string listener_name = icy_header_name(name);
    // The source's own requests about metadata are not the listener's answer.
    if (listener_name == "icy-metadata" || listener_name == "icy-metaint") continue;
    response.header(std::move(listener_name), value.str());
  }
  if (metaint != 0) response.header("icy-metaint", std::to_string(metaint));
  return response;
}

// The registry and the policy as admission sees them. It keeps the streams it found, so that a
// listener joins the very Stream admission looked at.
class RegistryMounts final : public MountLookup {
 public:
  RegistryMounts(const StreamRegistry& registry, const AccessPolicy& policy) : registry_(registry), policy_(policy) {}

  std::optional<MountState> find(std::string_view mount) const override {
    const auto stream = stream_of(mount);
    if (!stream) return std::nullopt;
    return MountState{stream->has_source(), stream->viewer_count()};
  }
  const MountSettings* settings(std::string_view mount) const override { return policy_.mount(std::string(mount)); }
  std::string content_type(std::string_view mount) const override {
    const auto stream = stream_of(mount);
    return stream ? stream->metadata().content_type.str() : std::string();
  }

  // Looks again: a pull may have brought the mount meanwhile.
  void forget() { found_.clear(); }

  std::shared_ptr<Stream> stream_of(std::string_view mount) const {
    for (const auto& [name, stream] : found_) {
      if (name == mount) return stream;
    }
    auto stream = registry_.find(std::string(mount));
    found_.emplace_back(std::string(mount), stream);
    return stream;
  }

 private:
  const StreamRegistry& registry_;
  const AccessPolicy& policy_;
  mutable std::vector<std::pair<std::string, std::shared_ptr<Stream>>> found_;
};

}  // namespace

Worker::Worker(Relay& relay, std::size_t index)
    : relay_(relay),
      index_(index),
      deadlines_(kSweepIntervalMs, kDeadlineSlots, monotonic_ms()),
      discard_(std::make_unique<char[]>(kDiscardBytes)) {
  loop_.init(true);  // measuring idle time: sample_busy()
  // A writer short of ring room waits for make_room: it goes before the rest of a batch.
  inbox_.open(loop_.get(), [this](LoopEvent& event) { on_event(event); },
              [](const LoopEvent& event) { return event.kind == LoopEvent::Kind::make_room; });
  sweep_timer_.init<&Worker::on_sweep>(loop_.get(), this);
  sweep_timer_.start(kSweepIntervalMs, kSweepIntervalMs);
  tick_timer_.init<&Worker::on_tick_timer>(loop_.get(), this);  // armed for the earliest lane tick: schedule_tick
  auth_ = std::make_unique<Authenticator>(*this);
  admin_ = std::make_unique<AdminActions>(*this);
  if (index_ == 0 && relay_.config().master) {
    master_poller_ = std::make_unique<MasterPoller>(*this, *relay_.config().master);
    master_poller_->start();  // its first read runs once the loop does
  }
}

Worker::~Worker() { assert(!thread_.joinable()); }

void Worker::make_tokens(std::vector<std::unique_ptr<Worker>>& workers) {
  for (auto& worker : workers) tokens_.push_back(worker->inbox().make_producer_token());
  main_token_.emplace(relay_.main_inbox().make_producer_token());
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  loop_.run();
  // Every handle was closed by stop() and the loop ran their close callbacks: a loop that does
  // not close now left a handle open.
  const std::error_code error = loop_.close();
  closed_clean_ = !error;
  if (error) spdlog::warn("worker {} loop closed with handles open: {}", index_, error.message());
}

const RelayConfig& Worker::config() const { return relay_.config(); }

void Worker::post_to(std::size_t worker, LoopEvent&& event) {
  relay_.worker_inbox(worker).post(tokens_[worker], std::move(event));
}

void Worker::on_event(LoopEvent& event) {
  switch (event.kind) {
    case LoopEvent::Kind::none:
      return;
    case LoopEvent::Kind::accept:
      on_accepted_fd(event.fd, event.position);
      return;
    case LoopEvent::Kind::commit: {
      StreamLane& lane = event.stream->lane(index_);
      // Clear before reading head: a commit after this point notifies again.
      lane.notify_pending.exchange(false, std::memory_order_acq_rel);  // pairs: writer's exchange
      event.stream->on_commit_event(*this);
      return;
    }
    case LoopEvent::Kind::make_room:
      event.stream->lane(index_).make_room_pending.exchange(false, std::memory_order_acq_rel);
      event.stream->make_room(*this, event.position);
      post_to(event.stream->writer_worker(),
              LoopEvent{LoopEvent::Kind::resume_source, -1, event.stream, 0});
      return;
    case LoopEvent::Kind::resume_source:
      resume_sources(event.stream.get());
      return;
    case LoopEvent::Kind::stream_ended:
      event.stream->end_lane(*this);
      return;
    case LoopEvent::Kind::admin_task:
      admin_->run(*event.task);
      if (event.task->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        const std::size_t origin = event.task->origin_worker;
        post_to(origin, LoopEvent{LoopEvent::Kind::admin_done, -1, nullptr, 0, std::move(event.task)});
      }
      return;
    case LoopEvent::Kind::admin_done:
      admin_->answer(*event.task);
      return;
    case LoopEvent::Kind::move_viewers:
      move_viewers(event.stream.get(), event.target, event.position == kMoveHome);
      return;
    case LoopEvent::Kind::origin_answer:
      on_origin_answer(*event.name, static_cast<int>(event.position));
      return;
    case LoopEvent::Kind::start_pull:
      start_static_pull(*event.name);
      return;
    case LoopEvent::Kind::stop_pull:
      for (auto& pull : pulls_) {
        if (pull->mount() == *event.name) pull->stop();
      }
      return;
    case LoopEvent::Kind::drain:
      drain();
      return;
    case LoopEvent::Kind::stop:
      stop();
      return;
  }
}

uv_buf_t Worker::head_scratch(std::size_t capacity) {
  if (head_scratch_capacity_ < capacity) {  // at first, and when a reload raised --max-head-bytes
    head_scratch_ = std::make_unique_for_overwrite<char[]>(capacity);
    head_scratch_capacity_ = capacity;
  }
  return uv_buf_init(head_scratch_.get(), static_cast<unsigned>(capacity));
}

void Worker::on_accepted_fd(int fd, std::uint64_t flags) {
  if (draining_) {
    ::close(fd);
    relay_.connection_closed();
    return;
  }
  // Ids are unique relay-wide, and name their loop: id % workers.
  const std::uint64_t id = next_connection_id_++ * relay_.worker_count() + index_;
  auto* connection = new Connection(*this, id, monotonic_ms());
  if (!connection->open(loop_.get(), fd)) {
    delete connection;
    relay_.connection_closed();
    return;
  }
  connections_.insert(connection);
  counters_.connections_accepted.add(1);
  connection->set_admin_listener((flags & kAcceptAdmin) != 0);
  if ((flags & kAcceptAdmin) == 0 && relay_.config().proxy_protocol) {
    // A PROXY listener takes headers from the trusted proxies only: anyone else could claim to
    // be any client.
    if (!relay_.trusted_proxies().contains(address_of(connection->peer()))) {
      counters_.untrusted_proxies.add(1);
      spdlog::warn("{} closed: not a trusted proxy (--trusted-proxy), and --listen wants a PROXY header",
                   connection->peer());
      connection->close("not a trusted proxy");
      return;
    }
    connection->expect_proxy_header();
  }
  if ((flags & kAcceptOverLimit) != 0) {
    counters_.over_limit.add(1);
    spdlog::warn("{} refused: {} connections open (--max-connections): 503", connection->peer(),
                 relay_.config().max_connections);
    connection->respond_and_close(503, "too many connections\n");
  }
}

void Worker::connection_closed(Connection& connection) {
  if (connections_.erase(&connection) > 0) counters_.connections_closed.add(1);
  delete &connection;
  relay_.connection_closed();
  maybe_drained();
}

void Worker::handle_request(Connection& connection, RequestHead& head, std::string_view early_body) {
  spdlog::debug("{} {} {}", connection.peer(), head.method_name, head.target);
  if (head.http_major != 1) {
    counters_.bad_requests.add(1);
    spdlog::info("{} HTTP/{}.{} not supported: 505", connection.peer(), head.http_major, head.http_minor);
    connection.respond_and_close(505, "only HTTP/1.x is spoken here\n");
    return;
  }
  if (!relay_.trusted_proxies().empty()) take_forwarded_client(connection, head);
  const Route route = route_for(head.method, head.path, connection.on_admin_listener());
  switch (route) {
    case Route::viewer:
      handle_viewer(connection, head);
      return;
    case Route::source:
      handle_source(connection, head, early_body);
      return;
    case Route::hls:
      handle_hls_request(connection, head);
      return;
    case Route::health: {
      // Every few seconds from each balancer: no auth, no listener, no access log line.
      const auto& config = relay_.config();
      const HealthAnswer answer = health_answer(relay_.draining(), config.ready_mounts, [&](std::string_view mount) {
        const auto stream = relay_.registry().find(std::string(mount));
        return stream && stream->has_source();
      });
      spdlog::debug("{} health: {}", connection.peer(), answer.status);
      connection.respond(Response::text(answer.status, answer.body), head.method == Method::head);
      return;
    }
    case Route::preflight: {
      // Browsers ask before a cross-origin request with credentials or custom headers.
      Response response;
      response.status = 204;
      response.content_type.clear();
      response.header("Allow", std::string(kAllowedMethods))
          .header("Access-Control-Allow-Methods", std::string(kAllowedMethods))
          .header("Access-Control-Allow-Headers", "Authorization, Content-Type, Icy-MetaData, Range")
          .header("Access-Control-Max-Age", "86400");
      connection.respond(response);
      return;
    }
    case Route::admin_listener_only_operators:
      counters_.not_found.add(1);
      spdlog::info("{} {} {} on the admin listener: 404", connection.peer(), head.method_name, head.path);
      connection.respond_and_close(404, "the admin listener serves /, /stats, /metrics and /admin/ only\n");
      return;
    case Route::bad_method: {
      counters_.bad_methods.add(1);
      spdlog::info("{} method {} not allowed: 405", connection.peer(), head.method_name);
      Response response = Response::text(405, "use GET to watch, PUT or SOURCE to broadcast\n");
      response.header("Allow", std::string(kAllowedMethods));
      connection.respond(response);
      return;
    }
    default:
      admin_->handle(connection, head, route);
      return;
  }
}

void Worker::take_forwarded_client(Connection& connection, const RequestHead& head) {
  // Forwarded (RFC 7239) when the proxy sends it, else X-Forwarded-For; every such header, in
  // order. forwarded_client believes them only from a trusted peer.
  std::vector<std::string_view> forwarded;
  std::vector<std::string_view> x_forwarded_for;
  for (const auto& [name, value] : head.headers) {
    if (strcasecmp(name.c_str(), "Forwarded") == 0) forwarded.push_back(value);
    if (strcasecmp(name.c_str(), "X-Forwarded-For") == 0) x_forwarded_for.push_back(value);
  }
  if (forwarded.empty() && x_forwarded_for.empty()) return;
  const std::string peer = address_of(connection.peer());
  std::optional<std::string> client;
  if (!forwarded.empty()) {
    const std::vector<std::string> hops = forwarded_for_values(forwarded);
    client = forwarded_client(peer, std::vector<std::string_view>(hops.begin(), hops.end()), relay_.trusted_proxies());
  } else {
    client = forwarded_client(peer, x_forwarded_for, relay_.trusted_proxies());
  }
  if (!client) return;
  spdlog::debug("{} forwarded for {}", connection.peer(), *client);
  connection.set_client_address(*client + ":0");
}

void Worker::handle_source(Connection& connection, RequestHead& head, std::string_view early_body,
                           bool authenticated) {
  const std::string& mount = head.path;
  const auto& config = relay_.config();
  const auto policy = relay_.policy();
  const MountSettings* mount_settings = policy->mount(mount);
  const RegistryMounts mounts(relay_.registry(), *policy);
  SourcePolicy rules;
  rules.draining = relay_.draining();
  rules.max_mount_length = config.max_mount_length;
  rules.source_password = policy->source_password_for(mount_settings);
  const SourceAdmission decision = admit_source(head, authenticated, mounts, rules);
  switch (decision.outcome) {
    case SourceAdmission::Outcome::refuse:
      refuse(connection, "source", mount, decision.refused, policy->realm);
      return;
    case SourceAdmission::Outcome::authenticate:
      auth_->start(connection, head, early_body, AuthKind::source, policy, *mount_settings);
      return;
    case SourceAdmission::Outcome::accept:
      break;
  }
  StreamMetadata metadata = stream_metadata_from(head.headers, mount_settings);
  metadata.started_unix_ms = unix_ms();
  metadata.user_agent = PeerText::from(head.header("User-Agent").value_or(""), kMaxUserAgentBytes);
  metadata.source_ip = address_of(connection.peer());
  const std::string content_type = metadata.content_type.str();
  auto attached = relay_.registry().attach_source(mount, index_, std::move(metadata), mount_settings);
  if (attached.outcome == StreamRegistry::AttachOutcome::too_many_mounts) {
    counters_.over_limit.add(1);
    spdlog::warn("{} source refused for {}: {} mounts exist (--max-mounts): 503", connection.peer(),
                 mount, config.max_mounts);
    connection.respond_and_close(503, "too many mounts\n");
    return;
  }
  if (attached.outcome == StreamRegistry::AttachOutcome::in_use) {
    counters_.mount_in_use.add(1);
    spdlog::info("{} source refused for {}: a source is live there: 403", connection.peer(), mount);
    connection.respond_and_close(403, "mountpoint in use\n");
    return;
  }
  // Icecast 2.4 answers 100 Continue (and nothing more) when asked, else 200 OK: its bare
  // status lines, byte for byte, the one answer not made by render_head (encoders read these
  // exact lines; they need none of the headers a client's answer carries).
  const std::error_code written = connection.tcp().write_copy(
      decision.continue_expected ? "HTTP/1.1 100 Continue\r\n\r\n" : "HTTP/1.0 200 OK\r\n\r\n");
  const bool resumed = attached.outcome == StreamRegistry::AttachOutcome::resumed;
  spdlog::info("source {} {} {} ({}{}){}", connection.peer(), resumed ? "resumed" : "started", mount,
               content_type, decision.chunked ? ", chunked" : "", resumed ? ": viewers continue" : "");
  if (mount_settings) auth_->notify_mount_change(*mount_settings, "mount_add", mount);
  if (mount_settings && mount_settings->fallback_override) {
    // fallback-override: the mount's own listeners, wherever its fallback took them, come back.
    post_to_all(LoopEvent{LoopEvent::Kind::move_viewers, -1, nullptr, kMoveHome, nullptr, attached.stream});
  }
  connection.remember_request(head, monotonic_ms());
  connection.become_source(std::make_unique<SourceSession>(connection, attached.stream, decision.chunked),
                           early_body, monotonic_ms());
  if (written) connection.close(written.message());
}

void Worker::handle_viewer(Connection& connection, RequestHead& head, bool authenticated) {
  const std::string& path = head.path;
  const auto& config = relay_.config();
  const auto policy = relay_.policy();  // keeps the mounts' settings alive through a reload
  RegistryMounts mounts(relay_.registry(), *policy);
  ViewerPolicy rules;
  rules.draining = relay_.draining();
  rules.max_mount_length = config.max_mount_length;
  rules.icy_metaint = config.icy_metaint;
  rules.max_viewers_per_mount = config.max_viewers_per_mount;
  rules.relay_id = relay_.relay_id();
  rules.relay_max_hops = config.relay_max_hops;
  rules.relays_mount = relay_.relays_mount(path);
  ViewerAdmission decision = admit_viewer(head, authenticated, connection.authenticated_user(), mounts, rules);
  if (decision.outcome == ViewerAdmission::Outcome::ask_origin) {
    if (pull_from_origin(connection, head, path, decision.mount_present)) return;
    // The pull is there (or the mount waits in its grace): admission again, the origin asked.
    rules.origin_asked = true;
    mounts.forget();
    decision = admit_viewer(head, authenticated, connection.authenticated_user(), mounts, rules);
  }
  switch (decision.outcome) {
    case ViewerAdmission::Outcome::refuse:
      // A pull that would loop is another relay's request, not a listener's.
      refuse(connection, decision.refused.refusal == Refusal::relay_loop ? "relay request" : "viewer", path,
             decision.refused);
      return;
    case ViewerAdmission::Outcome::ask_origin:
      assert(false && "admission asks the origin once");
      return;
    case ViewerAdmission::Outcome::authenticate:
      auth_->start(connection, head, {}, AuthKind::listener, policy, *policy->mount(path));
      return;
    case ViewerAdmission::Outcome::answer_head:
    case ViewerAdmission::Outcome::answer_probe:
    case ViewerAdmission::Outcome::join:
      break;
  }
  const std::shared_ptr<Stream> stream = mounts.stream_of(decision.mount);
  assert(stream);  // admission found it
  if (decision.sent_to_fallback_when_full) {
    spdlog::info("{} viewer for {}: full ({} viewers), sent to its fallback {}", connection.peer(), path,
                 decision.max_viewers, stream->mount());
  }
  const StreamMetadata metadata = stream->metadata();
  Response response = viewer_response(metadata, decision.metaint);
  if (decision.outcome == ViewerAdmission::Outcome::answer_head) {
    connection.respond(response, true);
    return;
  }
  if (decision.outcome == ViewerAdmission::Outcome::answer_probe) {
    const std::array<char, 2> sniff = stream->first_bytes();
    response.status = 206;
    response.streaming = false;
    response.header("Content-Range", "bytes 0-1/*");
    response.body.assign(sniff.data(), sniff.size());
    connection.respond(response);
    return;
  }
  if (decision.one_connection_per_user) {
    if (!stream->listener_users.try_add(connection.authenticated_user())) {
      counters_.mount_in_use.add(1);
      spdlog::info("{} listener {} refused for {}: that user is listening already: 403", connection.peer(),
                   connection.authenticated_user(), path);
      connection.respond_and_close(403, "this user is listening already (allow_duplicate_users is off)\n");
      return;
    }
    connection.hold_listener_user(stream);
  }
  JoinRequest join;
  join.metaint = decision.metaint;
  join.rewind_ms = decision.rewind_ms;
  connection.remember_request(head, monotonic_ms());
  connection.set_user_agent(PeerText::from(head.header("User-Agent").value_or(""), kMaxUserAgentBytes));
  auto viewer = std::make_unique<ViewerSession>(connection, stream, decision.metaint, path);
  ViewerSession& session = *viewer;
  connection.become_viewer(std::move(viewer));
  spdlog::info("viewer {} joined {}{}{}{}", connection.peer(), path,
               stream->mount() != path ? " (its fallback " + stream->mount() + ")" : std::string(),
               decision.metaint != 0 ? " (ICY metadata)" : "",
               join.rewind_ms ? " (rewind " + std::to_string(*join.rewind_ms) + " ms)" : std::string());
  session.start(std::move(response), join);
}

void Worker::refuse(Connection& connection, std::string_view who, std::string_view path, const Refused& refused,
                    std::string_view realm) {
  switch (refused.refusal) {
    case Refusal::bad_request:
      counters_.bad_requests.add(1);
      break;
    case Refusal::relay_loop:
      counters_.relay_loops.add(1);
      break;
    case Refusal::draining:
      counters_.draining.add(1);
      break;
    case Refusal::not_found:
      counters_.not_found.add(1);
      break;
    case Refusal::over_limit:
      counters_.over_limit.add(1);
      break;
    case Refusal::mount_in_use:
      counters_.mount_in_use.add(1);
      break;
    case Refusal::auth_failure:
      counters_.auth_failures.add(1);
      break;
  }
  const auto level = refused.level == Refused::Level::warn   ? spdlog::level::warn
                     : refused.level == Refused::Level::debug ? spdlog::level::debug
                                                              : spdlog::level::info;
  spdlog::log(level, "{} {} refused for {}: {}: {}", connection.peer(), who, path, refused.reason, refused.status);
  if (refused.status == 401) {
    connection.respond(Response::challenge(refused.body, std::string(realm)));
    return;
  }
  if (!refused.close) {
    Response response = Response::text(refused.status, refused.body);
    if (refused.retry_after) response.header("Retry-After", "5");
    connection.respond(response);
    return;
  }
  connection.respond_and_close(refused.status, refused.body);
}

void Worker::handle_hls_request(Connection& connection, const RequestHead& head) {
  // /M/index.m3u8 and /M/<sequence>.ts: HLS cut from an MPEG-TS mount's ring. Routed before
  // mount names, so that no mount can answer for another's playlist or segments.
  const std::string& path = head.path;
  if (const auto refused = bad_mount_name(path, relay_.config().max_mount_length)) {
    refuse(connection, "HLS request", path, *refused);
    return;
  }
  const auto hls = parse_hls_path(path);  // the router found the shape
  auto video = hls ? relay_.registry().find(hls->mount) : nullptr;
  if (!video && hls && relay_.relays_mount(hls->mount)) {
    if (pull_from_origin(connection, head, hls->mount, false)) return;
    video = relay_.registry().find(hls->mount);
  }
  if (!video) {
    counters_.not_found.add(1);
    spdlog::info("{} HLS request for {}: no such mount: 404", connection.peer(), path);
    connection.respond_and_close(404, "no such mount\n");
    return;
  }
  handle_hls(connection, head, video, *hls);
}

void Worker::handle_hls(Connection& connection, const RequestHead& head, const std::shared_ptr<Stream>& stream,
                        const HlsPath& hls) {
  const bool head_only = head.method == Method::head;
  const auto policy = relay_.policy();
  if (const MountSettings* settings = policy->mount(stream->mount()); settings && settings->listener_auth()) {
    // HLS players cannot carry a listener's credentials through every request: not offered.
    counters_.auth_failures.add(1);
    spdlog::info("{} HLS of {} refused: the mount authenticates listeners: 403", connection.peer(), stream->mount());
    connection.respond_and_close(403, "HLS is not offered for a mount with listener authentication\n");
    return;
  }
  if (hls.kind == HlsPath::Kind::playlist) {
    auto playlist = stream->hls_playlist("");
    if (!playlist) {
      counters_.not_found.add(1);
      spdlog::info("{} HLS of {}: not an MPEG-TS video stream: 404", connection.peer(), stream->mount());
      connection.respond_and_close(404, "no HLS here: the mount is not an MPEG-TS video stream\n");
      return;
    }
    if (stream->hls_sessions.touch(address_of(connection.peer()), monotonic_ms())) {
      spdlog::info("HLS session {} on {}", address_of(connection.peer()), stream->mount());
    }
    stream->hls_playlists.fetch_add(1, std::memory_order_relaxed);
    Response response = Response::ok("application/vnd.apple.mpegurl", std::move(*playlist));
    response.header("Cache-Control", "no-cache");  // it changes with every segment
    connection.respond(response, head_only);
    return;
  }
  const auto read = stream->hls_segment(hls.sequence);
  if (!read) {
    stream->hls_misses.fetch_add(1, std::memory_order_relaxed);
    counters_.not_found.add(1);
    spdlog::info("{} HLS segment {} of {}: not held: 404", connection.peer(), hls.sequence, stream->mount());
    connection.respond_and_close(404, "segment no longer held\n");
    return;
  }
  stream->hls_sessions.touch(address_of(connection.peer()), monotonic_ms());
  Response response;
  response.content_type = "video/mp2t";
  // A sequence number names the same bytes for as long as the mount lives.
  response.header("Cache-Control", "public, max-age=60");
  if (head_only) {
    response.content_length = (read->prefix ? read->prefix->size : 0) + (read->to - read->from);
    connection.respond(response, true);
    return;
  }
  connection.remember_request(head, monotonic_ms());
  auto reader = std::make_unique<ViewerSession>(connection, stream);
  ViewerSession& session = *reader;
  connection.become_viewer(std::move(reader));
  if (!session.start_segment(std::move(response), *read)) {
    stream->hls_misses.fetch_add(1, std::memory_order_relaxed);
    connection.close("segment overwritten");
    return;
  }
  stream->hls_segments.fetch_add(1, std::memory_order_relaxed);
}

LoopLoad Worker::load() const { return relay_.shared_load(); }

std::uint64_t Worker::now_unix_ms() const { return unix_ms(); }

AuthClient& Worker::http_client() { return auth_->http_client(); }

void Worker::viewer_joined() { counters_.viewers_joined.add(1); }

void Worker::viewer_left() { counters_.viewers_left.add(1); }

void Worker::sample_busy() {
  const std::uint64_t now = uv::Loop::now_ns();
  const std::uint64_t idle = loop_.idle_ns();
  if (busy_sample_ns_ != 0 && now > busy_sample_ns_) {
    const double busy = 1.0 - static_cast<double>(idle - idle_sample_ns_) / static_cast<double>(now - busy_sample_ns_);
    busy_ = 0.5 * busy_ + 0.5 * std::clamp(busy, 0.0, 1.0);  // a spike moves the delay, a blip not much
  }
  busy_sample_ns_ = now;
  idle_sample_ns_ = idle;
  counters_.busy_permille.set(static_cast<std::uint64_t>(busy_ * 1000));
  counters_.write_delay_ms.set(longest_period_us_ / 1000);
  longest_period_us_ = 0;
}

void Worker::source_paused(SourceSession& source) { paused_sources_.push_back(&source); }

void Worker::source_gone(SourceSession& source) {
  std::erase(paused_sources_, &source);
}

void Worker::resume_sources(const Stream* stream) {
  // Copy: a source that resumes may pause again at once.
  const std::vector<SourceSession*> paused = std::exchange(paused_sources_, {});
  for (SourceSession* source : paused) {
    if (stream == nullptr || &source->stream() == stream) {
      source->resume();
    } else {
      paused_sources_.push_back(source);
    }
  }
}

void Worker::source_detached(Stream& stream) {
  relay_.registry().detach_source(stream, monotonic_ms(), unix_ms());
  const auto policy = relay_.policy();
  if (const MountSettings* settings = policy->mount(stream.mount())) {
    auth_->notify_mount_change(*settings, "mount_remove", stream.mount());
  }
  // Its listeners move to the fallback at once: no grace wait, no disconnect.
  if (const auto target = live_fallback_stream(stream.mount())) {
    spdlog::info("{} has no source: its viewers move to {}", stream.mount(), target->mount());
    post_to_all(LoopEvent{LoopEvent::Kind::move_viewers, -1, stream.shared_from_this(), 0, nullptr, target});
  }
}

std::shared_ptr<Stream> Worker::live_fallback_stream(const std::string& mount) {
  const auto policy = relay_.policy();
  const RegistryMounts mounts(relay_.registry(), *policy);
  const auto target = live_fallback_of(mount, mounts, relay_.config().max_viewers_per_mount, false);
  return target ? mounts.stream_of(*target) : nullptr;
}

void Worker::post_to_main(LoopEvent&& event) { relay_.main_inbox().post(*main_token_, std::move(event)); }

void Worker::post_to_all(const LoopEvent& event) {
  for (std::size_t worker = 0; worker < relay_.worker_count(); ++worker) post_to(worker, LoopEvent(event));
}

void Worker::move_viewers(const Stream* from, const std::shared_ptr<Stream>& target, bool home_only) {
  if (!target) return;
  std::size_t moved = 0;
  for (Connection* connection : connections_) {
    ViewerSession* viewer = connection->viewer();
    if (connection->state() != Connection::State::viewer || viewer->is_segment() ||
        &viewer->stream() == target.get()) {
      continue;
    }
    if (home_only ? viewer->home_mount() != target->mount() : &viewer->stream() != from) continue;
    viewer->move_to(target);
    ++moved;
  }
  if (moved > 0) spdlog::debug("worker {}: {} viewers now hear {}", index_, moved, target->mount());
}

void Worker::on_sweep() {
  counters_.loop_lag.tick(uv::Loop::now_ns(), kSweepIntervalMs);
  sample_busy();
  const std::uint64_t now = monotonic_ms();
  deadlines_.expire(now, [&](Connection& connection) { check_deadline(connection, now); });
  // A paused source whose lanes have since emptied retries here instead of waiting forever.
  if (!paused_sources_.empty()) resume_sources(nullptr);
  for (auto& pull : pulls_) pull->on_sweep(now);
  std::erase_if(pulls_, [](const auto& pull) { return pull->finished(); });
}

void Worker::recheck(Connection& connection) { deadlines_.schedule(connection.deadline_hook(), 0); }

void Worker::check_deadline(Connection& connection, std::uint64_t now) {
  const auto& config = relay_.config();
  const auto again_at = [&](std::uint64_t due_ms) { deadlines_.schedule(connection.deadline_hook(), due_ms); };
  // Not due yet (the state's deadline moved, or the look came early): filed again for it.
  const auto not_yet = [&](std::uint64_t due_ms) {
    if (now >= due_ms) return false;
    again_at(due_ms);
    return true;
  };
  const std::uint64_t head_due = connection.accepted_ms() + config.head_timeout_ms;
  switch (connection.state()) {
    case Connection::State::answering:
      if (not_yet(head_due)) break;
      if (connection.awaiting_origin()) {
        // An edge's listener whose pull has had no answer yet (origins that stall): 504.
        connection.give_up_origin_wait();
        counters_.origin_failures.add(1);
        spdlog::info("{} viewer: no answer from the origins within {} ms (--head-timeout): 504",
                     connection.peer(), config.head_timeout_ms);
        connection.respond_and_close(504, "the origin did not answer in time\n");
        break;
      }
      connection.close("admin task timed out");
      break;
    case Connection::State::reading_head:
      if (not_yet(head_due)) break;
      counters_.head_timeouts.add(1);
      spdlog::info("{} request head not complete after {} ms: 408", connection.peer(), config.head_timeout_ms);
      connection.respond_and_close(408, "request head timeout\n");
      break;
    case Connection::State::source: {
      SourceSession& source = *connection.source();
      if (source.paused()) {
        again_at(now + kSweepIntervalMs);  // not timed while paused; it may resume any time
        break;
      }
      const auto silence_due = [&] { return source.last_data_ms() + config.source_idle_timeout_ms; };
      // A held source is silent only if the kernel holds nothing for it either.
      if (now >= silence_due() && source.held()) source.read_before_timeout(now);
      if (connection.is_closing() || not_yet(silence_due())) break;
      counters_.source_idle_timeouts.add(1);
      spdlog::warn("source {} on {} sent nothing for {} ms: dropped", connection.peer(), source.stream().mount(),
                   config.source_idle_timeout_ms);
      connection.close("source idle");
      break;
    }
    case Connection::State::lingering:
      if (not_yet(connection.lingering_since_ms() + kLingerMs)) break;
      connection.close("linger over");
      break;
    case Connection::State::viewer: {
      if (connection.listen_deadline_ms() != 0 && now >= connection.listen_deadline_ms()) {
        counters_.auth_time_limits.add(1);
        spdlog::info("viewer {} on {}: its time limit (icecast-auth-timelimit) ran out: closed", connection.peer(),
                     connection.viewer()->stream().mount());
        connection.close("time limit");
        break;
      }
      // A stall is a write in flight whose accepted position has not moved since a look
      // `stalled` ago: looked at again when the timeout would be up, or, while it moves, an
      // eighth of the timeout later (closed between 1 and 1.125 timeouts after its last
      // progress, or a sweep later when that is longer).
      const std::uint64_t timeout = config.viewer_stall_timeout_ms;
      const std::uint64_t stalled = connection.viewer()->stalled_for(now);
      if (stalled >= timeout) {
        spdlog::info("viewer {} on {} took nothing for {} ms: disconnected", connection.peer(),
                     connection.viewer()->stream().mount(), timeout);
        connection.viewer()->drop_stalled();
        break;
      }
      std::uint64_t next = now + (stalled > 0 ? timeout - stalled : std::max(timeout / 8, kSweepIntervalMs));
      if (connection.listen_deadline_ms() != 0) next = std::min(next, connection.listen_deadline_ms());
      again_at(next);
      break;
    }
    case Connection::State::closed:
      break;
  }
}

void Worker::schedule_tick(std::shared_ptr<Stream> stream, std::uint64_t due_us) {
  ticks_.push_back(Tick{due_us, std::move(stream)});
  std::push_heap(ticks_.begin(), ticks_.end(), std::greater<>{});
  if (timer_due_us_ == 0 || due_us < timer_due_us_) arm_tick_timer();
}

void Worker::arm_tick_timer() {
  if (ticks_.empty()) {
    timer_due_us_ = 0;
    tick_timer_.stop();
    return;
  }
  const std::uint64_t due = ticks_.front().due_us;
  const std::uint64_t now = now_us();
  // libuv's timers count whole milliseconds from the loop's cached time: round up, so a tick
  // never runs before its slot is due.
  const std::uint64_t wait_ms = due > now ? (due - now + 999) / 1000 : 0;
  timer_due_us_ = due;
  tick_timer_.start(wait_ms);
}

void Worker::on_tick_timer() {
  timer_due_us_ = 0;
  const std::uint64_t now = now_us();
  // Only the ticks due now: lanes that tick re-schedule themselves for later.
  while (!ticks_.empty() && ticks_.front().due_us <= now) {
    std::pop_heap(ticks_.begin(), ticks_.end(), std::greater<>{});
    Tick tick = std::move(ticks_.back());
    ticks_.pop_back();
    tick.stream->on_tick(*this, tick.due_us);
  }
  arm_tick_timer();
}

void Worker::drain() {
  draining_ = true;
  for (auto& pull : pulls_) pull->stop();
  pulls_.clear();
  const std::vector<Connection*> open(connections_.begin(), connections_.end());
  for (Connection* connection : open) connection->close("relay shutting down");
  maybe_drained();
}

void Worker::maybe_drained() {
  if (draining_ && connections_.empty() && !drained_reported_) {
    drained_reported_ = true;
    relay_.worker_drained();
  }
}

void Worker::stop() {
  inbox_.close();
  if (master_poller_) master_poller_->close();
  auth_->close();
  sweep_timer_.close();
  ticks_.clear();
  tick_timer_.close();
}

Connection* Worker::adopt_socket(int fd) {
  const std::uint64_t id = next_connection_id_++ * relay_.worker_count() + index_;
  auto* connection = new Connection(*this, id, monotonic_ms());
  relay_.connection_opened();
  if (!connection->open(loop_.get(), fd)) {
    delete connection;
    relay_.connection_closed();
    return nullptr;
  }
  if (connection->is_closing()) return nullptr;  // it frees itself in its close callback
  connection->tcp().set_nodelay();  // accepted sockets have it from the listener
  connections_.insert(connection);
  // Counted with the accepted ones, so that /stats' open connections (accepted - closed) stay
  // right when a pull's connection closes.
  counters_.connections_accepted.add(1);
  return connection;
}

bool Worker::pull_from_origin(Connection& connection, const RequestHead& head, const std::string& mount,
                              bool present) {
  const std::uint64_t now = monotonic_ms();
  const EdgeDirectory::Answer answer = relay_.edge().want(mount, index_, now);
  switch (answer.decision) {
    case EdgeDirectory::Decision::start: {
      const RelayChain chain = parse_relay_chain(head.header(kRelayChainHeader));
      auto pull = std::make_unique<OriginPull>(*this, relay_.pull_options(mount, chain));
      pull->start(now);
      pulls_.push_back(std::move(pull));
      break;
    }
    case EdgeDirectory::Decision::wait:
      break;
    case EdgeDirectory::Decision::present:
      return false;
    case EdgeDirectory::Decision::missing:
      if (present) return false;
      counters_.not_found.add(1);
      spdlog::info("{} viewer refused for {}: no origin has it (cached): {}", connection.peer(), mount,
                   answer.status);
      connection.respond_and_close(answer.status, "no such mount\n");
      return true;
  }
  // A mount in its grace: its listeners join and wait there. Else the request waits for the
  // pull's first answer.
  if (present) return false;
  auto pending = std::make_shared<PendingOrigin>();
  pending->connection = &connection;
  pending->head = head;
  connection.await_origin(pending);
  origin_waiters_.emplace(mount, std::move(pending));
  return true;
}

void Worker::start_static_pull(const std::string& mount) {
  if (draining_ || !relay_.edge().claim(mount, index_, monotonic_ms())) return;
  auto pull = std::make_unique<OriginPull>(*this, relay_.pull_options(mount, RelayChain{}));
  pull->start(monotonic_ms());
  pulls_.push_back(std::move(pull));
}

void Worker::apply_master_changes(const RelayMountChanges& changes, bool on_demand) {
  const std::size_t loops = relay_.worker_count();
  for (const std::string& mount : changes.removed) {
    LoopEvent event(LoopEvent::Kind::stop_pull);
    event.name = std::make_shared<const std::string>(mount);
    post_to_all(event);
  }
  if (on_demand) return;  // pulled when a listener asks, like an edge's
  for (const std::string& mount : changes.added) {
    LoopEvent event(LoopEvent::Kind::start_pull);
    event.name = std::make_shared<const std::string>(mount);
    post_to(next_pull_loop_++ % loops, std::move(event));
  }
}

void Worker::post_origin_answer(const std::string& mount, int status) {
  LoopEvent event(LoopEvent::Kind::origin_answer, -1, nullptr, static_cast<std::uint64_t>(status));
  event.name = std::make_shared<const std::string>(mount);
  post_to_all(event);
}

void Worker::on_origin_answer(const std::string& mount, int status) {
  auto [first, last] = origin_waiters_.equal_range(mount);
  std::vector<std::shared_ptr<PendingOrigin>> waiters;
  for (auto it = first; it != last; ++it) waiters.push_back(std::move(it->second));
  origin_waiters_.erase(first, last);
  for (const auto& pending : waiters) {
    Connection* connection = pending->connection;
    if (connection == nullptr) continue;
    pending->connection = nullptr;
    connection->origin_answered();
    if (status == 200) {
      handle_request(*connection, pending->head, {});  // routed again: the mount is here now
      continue;
    }
    (status == 404 ? counters_.not_found : counters_.origin_failures).add(1);
    spdlog::info("{} viewer refused for {}: {}: {}", connection->peer(), mount,
                 status == 404 ? "no origin has it" : "no origin serves it", status);
    connection->respond_and_close(status, status == 404 ? "no such mount\n" : "the origin did not serve the mount\n");
  }
}

void Worker::cancel_origin_wait(PendingOrigin& pending) { pending.connection = nullptr; }

}  // namespace ringcast::relay
