// One accepted TCP connection: owns the uv_tcp_t, reads the request head, then becomes a
// source or a viewer, or answers with a status and closes. Freed only in the close callback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "ringcast/core/deadline_wheel.h"
#include "ringcast/http/http_request.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/http/response.h"
#include "ringcast/uv/tcp.h"

namespace ringcast::relay {

class Worker;
class SourceSession;
class Stream;
class ViewerSession;
struct AdminTask;
struct PendingAuth;
struct PendingOrigin;
struct ListenerNotice;

class Connection {
 public:
  // answering: the request is being served by other loops (an admin task); reads are ignored.
  enum class State { reading_head, answering, source, viewer, lingering, closed };

  Connection(Worker& worker, std::uint64_t id, std::uint64_t now_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Adopts a socket another thread accepted. False (fd closed) when no handle could be made.
  bool open(uv_loop_t* loop, int fd);

  // Sends the response, then closes cleanly. head_only: the same head (Content-Length
  // included) without the body, for HEAD.
  void respond(const Response& response, bool head_only = false);
  // A short text answer (refusals), then a clean close.
  void respond_and_close(int status, std::string body) { respond(Response::text(status, std::move(body))); }
  void respond_ok(std::string content_type, std::string body, bool head_only = false) {
    respond(Response::ok(std::move(content_type), std::move(body)), head_only);
  }
  // Sends a FIN after pending writes, then closes. `why`: for the access log.
  void shutdown_then_close(std::string_view why = {});
  // Closes at once (idempotent). `why` goes to the log at debug level and the access log.
  void close(std::string_view why);

  // The request waits for an admin task on other loops; closing the connection cancels it.
  void await_admin(std::shared_ptr<AdminTask> task);
  void admin_answered() { pending_admin_.reset(); }
  // The request waits for its authentication (authenticator.h); closing cancels the check.
  void await_auth(std::shared_ptr<PendingAuth> pending);
  void auth_answered();
  // The request waits for an edge's pull of its mount (origin_pull.h); closing cancels the wait.
  void await_origin(std::shared_ptr<PendingOrigin> pending);
  void origin_answered();
  bool awaiting_origin() const { return pending_origin_ != nullptr; }
  // Waited too long: the pull's answer, when it comes, is not for this request any more.
  void give_up_origin_wait();
  // The url authenticator wants to hear when this viewer leaves (listener_remove).
  void set_listener_notice(std::unique_ptr<ListenerNotice> notice);
  // The access log wants this session's request line and client headers when it ends.
  void remember_request(const RequestHead& head, std::uint64_t now_ms);
  void set_admin_listener(bool admin) { admin_listener_ = admin; }
  bool on_admin_listener() const { return admin_listener_; }
  // The connection starts with a PROXY protocol header (from a trusted proxy): read it before
  // the request head; the client's address it names becomes peer(). Without one: closed.
  void expect_proxy_header() { proxy_header_pending_ = true; }
  // The client's address as a trusted proxy forwarded it ("203.0.113.9:0"): logs, the access
  // log, /admin/listclients, limits and auth see this from here on.
  void set_client_address(std::string peer) { peer_ = std::move(peer); }

  void become_source(std::unique_ptr<SourceSession> source, std::string_view early_body,
                     std::uint64_t now_ms);
  void become_viewer(std::unique_ptr<ViewerSession> viewer);
  // Reads again after a paused source stopped reading.
  std::error_code restart_reading();
  // A source read on demand (source_hold.h): reads what the kernel holds now, as libuv's read
  // callback would have.
  void read_pending();

  State state() const { return state_; }
  bool is_closing() const { return state_ == State::closed; }
  std::uint64_t id() const { return id_; }
  std::uint64_t accepted_ms() const { return accepted_ms_; }
  std::uint64_t lingering_since_ms() const { return lingering_since_ms_; }
  const std::string& peer() const { return peer_; }
  // A viewer's User-Agent, for /admin/listclients (set when it is admitted).
  const PeerText& user_agent() const { return user_agent_; }
  void set_user_agent(PeerText agent) { user_agent_ = std::move(agent); }
  // An authenticated listener's user name (set once its credentials were checked), and the
  // mount it holds that name on (duplicate-user rule), let go when the connection closes.
  void hold_listener_user(std::shared_ptr<Stream> stream);
  const std::string& authenticated_user() const { return authenticated_user_; }
  void set_authenticated_user(std::string user) { authenticated_user_ = std::move(user); }
  // When an authenticated listener's time is up (icecast-auth-timelimit; 0: never).
  std::uint64_t listen_deadline_ms() const { return listen_deadline_ms_; }
  void set_listen_deadline_ms(std::uint64_t deadline);
  // Its place on the worker's deadline wheel (Worker::check_deadline).
  WheelHook<Connection>& deadline_hook() { return deadline_hook_; }
  // The socket's descriptor, for what libuv has no call for (SO_RCVLOWAT, TCP_INFO, a read on
  // demand); -1 once the handle is closing.
  int fd() const;
  uv::Tcp& tcp() { return tcp_; }
  const uv::Tcp& tcp() const { return tcp_; }
  Worker& worker() { return worker_; }
  SourceSession* source() { return source_.get(); }
  ViewerSession* viewer() { return viewer_.get(); }

 private:
  struct HeadBuffer;

  // The socket's events (uv/tcp.h)
  void on_alloc(uv_buf_t* buffer);
  void on_read(std::error_code error, std::size_t n, const uv_buf_t* buffer);
  void on_shutdown(std::error_code error);
  void on_closed();

  void on_head_bytes(char* received_at, std::size_t n);
  void keep_head_bytes(const char* bytes);
  void write_then_shutdown(std::string text);
  bool start_reading();
  // Takes the PROXY header off the front of the head buffer; false when the connection is
  // done for (malformed) or must wait for more bytes.
  bool take_proxy_header(char* bytes);
  void note_end(std::string_view why);
  void log_session_end();

  uv::Tcp tcp_;
  Worker& worker_;
  std::uint64_t id_;
  std::uint64_t accepted_ms_;
  State state_ = State::reading_head;
  std::uint64_t lingering_since_ms_ = 0;
  std::string peer_;
  PeerText user_agent_;
  std::uint64_t listen_deadline_ms_ = 0;
  std::string authenticated_user_;
  std::shared_ptr<Stream> held_user_stream_;
  std::unique_ptr<HeadBuffer> head_;  // only while reading the request head
  std::unique_ptr<SourceSession> source_;
  std::unique_ptr<ViewerSession> viewer_;
  bool admin_listener_ = false;
  bool proxy_header_pending_ = false;
  std::shared_ptr<AdminTask> pending_admin_;
  std::shared_ptr<PendingAuth> pending_auth_;
  std::shared_ptr<PendingOrigin> pending_origin_;
  std::unique_ptr<ListenerNotice> listener_notice_;
  void announce_leaving();
  struct SessionRecord;                   // only while the access log is on
  std::unique_ptr<SessionRecord> record_;
  WheelHook<Connection> deadline_hook_{*this};  // last: unlinked first when freed
};

}  // namespace ringcast::relay
