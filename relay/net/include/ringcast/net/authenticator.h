// One worker loop's listener and source authentication: a users file's hash check on libuv's
// thread pool, then Icecast's url authenticator (listener_add, stream_auth) over this loop's
// AuthClient, and the notices after (listener_remove, mount_add, mount_remove). A request that
// passes goes on to Worker::handle_viewer or handle_source, authenticated; one that does not is
// answered here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace ringcast::relay {

struct AccessPolicy;
struct ListenerAuthRequest;
struct ListenerNotice;
struct MountSettings;
struct PendingAuth;
struct RequestHead;
enum class AuthKind;
class AuthClient;
class Connection;
class Worker;

class Authenticator {
 public:
  explicit Authenticator(Worker& worker);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Checks `connection`'s request against `settings` (kept alive by `policy` through a reload).
  void start(Connection& connection, const RequestHead& head, std::string_view early_body,
             AuthKind kind, std::shared_ptr<const AccessPolicy> policy,
             const MountSettings& settings);
  // The connection closed while its check ran: the answer is dropped.
  void cancel(PendingAuth& pending);
  // The users file's check came back from the pool (PendingAuth::hash_checked) for a
  // connection still open: refused, on to the url authenticator, or passed.
  void hash_checked(std::shared_ptr<PendingAuth> pending, std::error_code error);
  // A viewer admitted by the url authenticator left: listener_remove.
  void listener_left(const ListenerNotice& notice, std::uint64_t duration_seconds);
  // A source came or went on a mount with mount_add / mount_remove URLs.
  void notify_mount_change(const MountSettings& settings, std::string_view action,
                           const std::string& mount);
  // The loop's HTTP client (the master poller reads its master's list with it too).
  AuthClient& http_client();
  // Closes the client's handles (Worker::stop).
  void close();

 private:
  void check_url(std::shared_ptr<PendingAuth> pending);
  void passed(PendingAuth& pending);
  void refused(PendingAuth& pending, int status, std::string_view why);
  void post_notice(const std::string& url, std::string body, std::uint32_t timeout_ms,
                   std::string_view what);
  ListenerAuthRequest listener_request(const Connection& connection, const RequestHead& head,
                                       const MountSettings& settings, std::string user,
                                       std::string password) const;

  Worker& worker_;
  std::unique_ptr<AuthClient> client_;
};

}  // namespace ringcast::relay
