// Listener and source authentication on a worker (auth.h for the rules, auth_client.h for the
// HTTP): a users file's hash check runs on libuv's thread pool (bcrypt takes tens of ms), the
// url authenticator on this loop's AuthClient; neither ever blocks the loop. Refusals,
// timeouts and bad answers are logged and counted.
#include "ringcast/net/authenticator.h"

#include <spdlog/spdlog.h>

#include "pending_auth.h"
#include "ringcast/auth/auth.h"
#include "ringcast/auth/auth_client.h"
#include "ringcast/net/connection.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {

const char* kind_name(AuthKind kind) { return kind == AuthKind::listener ? "listener" : "source"; }

}  // namespace

Authenticator::Authenticator(Worker& worker)
    : worker_(worker), client_(std::make_unique<AuthClient>(worker.loop())) {}

Authenticator::~Authenticator() = default;

AuthClient& Authenticator::http_client() { return *client_; }

void Authenticator::close() { client_->close(); }

ListenerAuthRequest Authenticator::listener_request(const Connection& connection, const RequestHead& head,
                                                  const MountSettings& settings, std::string user,
                                                  std::string password) const {
  ListenerAuthRequest request;
  request.server = std::string(host_without_port(head.header("Host").value_or(worker_.relay().config().listen_host)));
  request.port = worker_.relay().bound_port();
  request.client = connection.id();
  request.mount = head.target;  // with its query string (a token, a session): Icecast's `mount`
  request.user = std::move(user);
  request.password = std::move(password);
  request.ip = address_of(connection.peer());
  request.agent = std::string(head.header("User-Agent").value_or(""));
  for (const std::string& name : settings.auth_forward_headers) {
    if (const auto value = head.header(name)) request.forwarded_headers.emplace_back(name, std::string(*value));
  }
  request.header_prefix = settings.auth_header_prefix;
  return request;
}

void Authenticator::start(Connection& connection, const RequestHead& head, std::string_view early_body,
                        AuthKind kind, std::shared_ptr<const AccessPolicy> policy,
                        const MountSettings& settings) {
  auto pending = std::make_shared<PendingAuth>();
  pending->kind = kind;
  pending->connection = &connection;
  pending->head = head;
  pending->early_body = std::string(early_body);
  pending->policy = std::move(policy);
  pending->settings = &settings;
  if (const auto credentials = parse_basic_auth(head.header("Authorization").value_or(""))) {
    pending->user = credentials->user;
    pending->password = credentials->password;
  }
  const bool users_file = kind == AuthKind::listener && settings.listener_users != nullptr;
  if ((users_file || kind == AuthKind::source) && pending->user.empty() && pending->password.empty()) {
    // Ask for credentials: players and libshout send them once challenged.
    refused(*pending, 401, "no credentials");
    return;
  }
  connection.await_auth(pending);
  if (!users_file) {
    check_url(std::move(pending));
    return;
  }
  const auto& users = settings.listener_users->users;
  if (users.empty()) {
    refused(*pending, 401, "the users file lists nobody");
    return;
  }
  // An unknown user is checked too, against another user's hash, and refused after: answering
  // at once would tell who is listed by how fast the answer comes.
  pending->unknown_user = users.find(pending->user) == users.end();
  pending->self = pending;
  PendingAuth* const raw = pending.get();
  if (const std::error_code error =
          raw->work.queue<&PendingAuth::check_hash, &PendingAuth::hash_checked>(worker_.loop(), raw)) {
    pending->self.reset();
    refused(*pending, 503, error.message());
  }
}

void PendingAuth::check_hash() {
  const auto& listed = settings->listener_users->users;
  const auto found = unknown_user ? listed.begin() : listed.find(user);
  hash_matched = password_matches(found->second, password) && !unknown_user;
}

void PendingAuth::hash_checked(std::error_code error) {
  std::shared_ptr<PendingAuth> pending = std::move(self);  // this lives while `pending` does
  if (connection != nullptr) connection->worker().auth().hash_checked(std::move(pending), error);
}

void Authenticator::hash_checked(std::shared_ptr<PendingAuth> pending, std::error_code error) {
  if (error || !pending->hash_matched) {
    refused(*pending, 401, error                    ? "check cancelled"
                           : pending->unknown_user ? "unknown user"
                                                   : "wrong password");
  } else if (pending->settings->listener_add_url) {
    check_url(std::move(pending));
  } else {
    passed(*pending);
  }
}

void Authenticator::check_url(std::shared_ptr<PendingAuth> pending) {
  const MountSettings& settings = *pending->settings;
  std::string url, body;
  if (pending->kind == AuthKind::listener) {
    url = *settings.listener_add_url;
    body = listener_add_body(
        listener_request(*pending->connection, pending->head, settings, pending->user, pending->password));
  } else {
    url = *settings.stream_auth_url;
    body = stream_auth_body(pending->head.path, address_of(pending->connection->peer()),
                            host_without_port(pending->head.header("Host").value_or("")),
                            worker_.relay().bound_port(), pending->user, pending->password);
  }
  PendingAuth& p = *pending;
  p.ticket = client_->post(url, std::move(body), settings.auth_timeout_ms,
                                [this, pending](const AuthClient::Result& result) {
                                  pending->ticket = 0;
                                  if (pending->connection == nullptr) return;
                                  if (!result.transport_ok) {
                                    worker_.counters().auth_errors.add(1);
                                    refused(*pending, 503, "auth server: " + result.error);
                                    return;
                                  }
                                  const AuthAnswer answer = read_auth_answer(
                                      result.status, result.headers, pending->settings->auth_header);
                                  if (!answer.allowed) {
                                    if (result.status < 200 || result.status > 299) worker_.counters().auth_errors.add(1);
                                    refused(*pending, 401,
                                                 "auth server said no (" + std::to_string(result.status) +
                                                     (answer.message.empty() ? "" : ": " + answer.message) + ")");
                                    return;
                                  }
                                  pending->time_limit_seconds = answer.time_limit_seconds;
                                  passed(*pending);
                                });
}

void Authenticator::passed(PendingAuth& pending) {
  Connection& connection = *pending.connection;
  connection.auth_answered();
  if (connection.is_closing()) return;
  worker_.counters().auth_allowed.add(1);
  spdlog::info("{} {} {} on {} authenticated", connection.peer(), kind_name(pending.kind),
               pending.user.empty() ? "-" : pending.user, pending.head.path);
  if (pending.kind == AuthKind::source) {
    worker_.handle_source(connection, pending.head, pending.early_body, true);
    return;
  }
  if (pending.settings->listener_remove_url) {
    auto notice = std::make_unique<ListenerNotice>();
    notice->url = *pending.settings->listener_remove_url;
    ListenerAuthRequest request =
        listener_request(connection, pending.head, *pending.settings, pending.user, pending.password);
    notice->body_prefix = listener_remove_body(request);  // duration=0, replaced when it leaves
    notice->timeout_ms = pending.settings->auth_timeout_ms;
    notice->joined_ms = monotonic_ms();
    connection.set_listener_notice(std::move(notice));
  }
  connection.set_authenticated_user(pending.user);
  if (pending.time_limit_seconds) {
    // icecast-auth-timelimit: the sweep closes the listener when its time is up.
    connection.set_listen_deadline_ms(monotonic_ms() + *pending.time_limit_seconds * 1000);
  }
  worker_.handle_viewer(connection, pending.head, true);
}

void Authenticator::refused(PendingAuth& pending, int status, std::string_view why) {
  Connection& connection = *pending.connection;
  connection.auth_answered();
  (status == 401 ? worker_.counters().auth_failures : worker_.counters().over_limit).add(1);
  if (status == 401) worker_.counters().auth_denied.add(1);
  spdlog::warn("{} {} {} refused for {}: {}: {}", connection.peer(), kind_name(pending.kind),
               pending.user.empty() ? "-" : pending.user, pending.head.path, why, status);
  connection.respond(status == 401 ? Response::challenge("authentication required\n", pending.policy->realm)
                                   : Response::text(status, "authentication unavailable\n"));
}

void Authenticator::cancel(PendingAuth& pending) {
  pending.connection = nullptr;
  if (pending.ticket != 0) client_->cancel(pending.ticket);
  pending.ticket = 0;
  if (pending.self) pending.work.cancel();  // if not started yet
}

void Authenticator::listener_left(const ListenerNotice& notice, std::uint64_t duration_seconds) {
  std::string body = notice.body_prefix;
  const std::size_t at = body.rfind("&duration=");
  if (at != std::string::npos) body.resize(at);
  body += "&duration=" + std::to_string(duration_seconds);
  post_notice(notice.url, std::move(body), notice.timeout_ms, "listener_remove");
}

void Authenticator::notify_mount_change(const MountSettings& settings, std::string_view action,
                                 const std::string& mount) {
  const auto& url = action == "mount_add" ? settings.mount_add_url : settings.mount_remove_url;
  if (!url) return;
  post_notice(*url, mount_change_body(action, mount, worker_.relay().config().listen_host, worker_.relay().bound_port()),
              settings.auth_timeout_ms, action);
}

void Authenticator::post_notice(const std::string& url, std::string body, std::uint32_t timeout_ms,
                         std::string_view what) {
  client_->post(url, std::move(body), timeout_ms,
                     [this, what = std::string(what), url](const AuthClient::Result& result) {
                       if (result.transport_ok && result.status >= 200 && result.status <= 299) return;
                       worker_.counters().auth_errors.add(1);
                       spdlog::warn("{} to {} failed: {}", what, url,
                                    result.transport_ok ? "HTTP " + std::to_string(result.status) : result.error);
                     });
}

}  // namespace ringcast::relay
