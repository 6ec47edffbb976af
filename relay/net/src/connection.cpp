// Connection lifecycle: accept, read the request head into a bounded buffer, hand the request
// to the server's router, then dispatch reads to the role (source: ring memory; viewer and
// lingering: a shared discard buffer).
#include "ringcast/net/connection.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "admin_task.h"
#include "pending_auth.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/http/proxy_protocol.h"
#include "ringcast/net/authenticator.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/source_session.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/viewer_session.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {
// libuv reads up to 32 times per readiness event; a read on demand stops sooner, since a held
// source has at most a few of its latency budgets waiting.
constexpr int kMaxPendingReads = 8;
}  // namespace

struct Connection::SessionRecord {
  std::string method, target, referer, user_agent, user;
  unsigned http_major = 1, http_minor = 1;
  std::uint64_t start_ms = 0;
  std::string end_reason;
};

struct Connection::HeadBuffer {
  explicit HeadBuffer(std::size_t limit) : capacity(limit) {}
  // Null while the head is read into the worker's scratch buffer; allocated (not zeroed: only
  // bytes [0, used) are ever read) when a read ends inside the head, to keep what came so far.
  std::unique_ptr<char[]> bytes;
  std::size_t capacity;
  std::size_t used = 0;
  RequestHeadParser parser;
};

Connection::Connection(Worker& worker, std::uint64_t id, std::uint64_t now_ms)
    : worker_(worker), id_(id), accepted_ms_(now_ms) {
  tcp_.bind<&Connection::on_alloc, &Connection::on_read, &Connection::on_closed>(this);
  worker_.recheck(*this);  // the head timeout
}

void Connection::set_listen_deadline_ms(std::uint64_t deadline) {
  listen_deadline_ms_ = deadline;
  worker_.recheck(*this);
}

Connection::~Connection() = default;

void Connection::await_auth(std::shared_ptr<PendingAuth> pending) {
  head_.reset();
  state_ = State::answering;
  pending_auth_ = std::move(pending);
  // A source may send its body before it hears the answer: leave it in the socket until then.
  tcp_.read_stop();
}

void Connection::await_origin(std::shared_ptr<PendingOrigin> pending) {
  head_.reset();
  state_ = State::answering;
  pending_origin_ = std::move(pending);
}

void Connection::origin_answered() { pending_origin_.reset(); }

void Connection::give_up_origin_wait() {
  if (!pending_origin_) return;
  worker_.cancel_origin_wait(*pending_origin_);
  pending_origin_.reset();
}

void Connection::auth_answered() {
  if (!pending_auth_) return;
  pending_auth_.reset();
  // Still `answering` (reads go to the discard buffer) until the request is routed again and
  // the connection becomes a viewer or a source or answers.
  if (state_ != State::answering) return;
  if (const std::error_code error = restart_reading()) close(error.message());
}

void Connection::set_listener_notice(std::unique_ptr<ListenerNotice> notice) {
  listener_notice_ = std::move(notice);
}

void Connection::hold_listener_user(std::shared_ptr<Stream> stream) { held_user_stream_ = std::move(stream); }

void Connection::announce_leaving() {
  if (held_user_stream_) {
    held_user_stream_->listener_users.remove(authenticated_user_);
    held_user_stream_.reset();
  }
  if (!listener_notice_ || !viewer_) return;
  worker_.auth().listener_left(*listener_notice_, (monotonic_ms() - listener_notice_->joined_ms) / 1000);
  listener_notice_.reset();
}

bool Connection::open(uv_loop_t* loop, int fd) {
  if (const std::error_code error = tcp_.init(loop)) {
    spdlog::warn("cannot adopt an accepted socket: {}", error.message());
    ::close(fd);
    state_ = State::closed;
    return false;
  }
  if (const std::error_code error = tcp_.open(fd)) {
    ::close(fd);
    close(error.message());
    return true;
  }
  return start_reading();
}

bool Connection::start_reading() {
  peer_ = tcp_.peer_name();
  head_ = std::make_unique<HeadBuffer>(worker_.config().max_head_bytes);
  if (const std::error_code error = tcp_.read_start()) close(error.message());
  return true;
}

void Connection::on_alloc(uv_buf_t* buffer) {
  switch (state_) {
    case State::reading_head:
      if (!head_->bytes) {
        *buffer = worker_.head_scratch(head_->capacity);
        return;
      }
      *buffer = uv_buf_init(head_->bytes.get() + head_->used,
                            static_cast<unsigned>(head_->capacity - head_->used));
      return;
    case State::source:
      *buffer = source_->next_buffer();
      return;
    case State::answering:
    case State::viewer:
    case State::lingering:
    case State::closed:
      *buffer = worker_.discard_buffer();
      return;
  }
}

void Connection::on_read(std::error_code error, std::size_t n, const uv_buf_t* buffer) {
  if (state_ == State::closed) return;
  if (error == uv::error(UV_ENOBUFS) && state_ == State::source) {
    source_->pause();  // the ring had no room: the writer waits for a lane, never for a viewer
    return;
  }
  if (error) {
    if (error == uv::error(UV_EOF)) {
      close("peer closed");
    } else if (error == uv::error(UV_ECONNRESET)) {
      close("peer reset");
    } else {
      close(error.message());
    }
    return;
  }
  if (n == 0) return;  // EAGAIN: the reservation (if any) is simply not committed
  switch (state_) {
    case State::reading_head: on_head_bytes(buffer->base, n); return;
    case State::source: source_->on_received(buffer->base, n, monotonic_ms()); return;
    case State::answering:   // bytes after an admin request: ignored
    case State::viewer:      // a viewer has nothing to say after its request: ignore it
    case State::lingering:   // drain until the peer closes
    case State::closed: return;
  }
}

bool Connection::take_proxy_header(char* bytes) {
  const ProxyParseResult proxy = parse_proxy_header(std::string_view(bytes, head_->used));
  switch (proxy.status) {
    case ProxyParseStatus::incomplete:
      if (head_->used < head_->capacity) return false;
      [[fallthrough]];  // a head buffer smaller than the header: it can never complete
    case ProxyParseStatus::malformed:
      worker_.counters().bad_requests.add(1);
      // A proxy that sends garbage, or a client that reached the PROXY listener directly: no
      // HTTP answer, the peer does not speak the protocol this listener wants.
      spdlog::warn("{} closed: no valid PROXY protocol header ({})", peer_,
                   proxy.status == ProxyParseStatus::malformed ? proxy.error : "larger than the head buffer");
      close("malformed PROXY header");
      return false;
    case ProxyParseStatus::complete:
      break;
  }
  if (proxy.header.command == ProxyHeader::Command::proxy) {
    spdlog::debug("connection {} from proxy {}: client {}:{}", id_, peer_, proxy.header.source_address,
                  proxy.header.source_port);
    peer_ = proxy.header.source_address + ":" + std::to_string(proxy.header.source_port);
  }
  proxy_header_pending_ = false;
  head_->used -= proxy.consumed;
  std::memmove(bytes, bytes + proxy.consumed, head_->used);
  return head_->used > 0;
}

// `received_at`: where the read put its n bytes, the end of this connection's own head bytes or
// (while it has none) the worker's scratch buffer, which the next connection's read reuses.
void Connection::on_head_bytes(char* received_at, std::size_t n) {
  char* const bytes = head_->bytes ? head_->bytes.get() : received_at;
  head_->used += n;
  if (proxy_header_pending_ && !take_proxy_header(bytes)) {
    keep_head_bytes(bytes);
    return;
  }
  const std::string_view received(bytes, head_->used);
  switch (head_->parser.feed(received)) {
    case ParseStatus::incomplete:
      if (head_->used == head_->capacity) {
        worker_.counters().heads_too_large.add(1);
        spdlog::info("{} request head larger than {} bytes: 431", peer_, head_->capacity);
        respond_and_close(431, "request head too large\n");
        return;
      }
      keep_head_bytes(bytes);
      return;
    case ParseStatus::malformed:
      worker_.counters().bad_requests.add(1);
      spdlog::info("{} malformed request head: 400", peer_);
      respond_and_close(400, "malformed request\n");
      return;
    case ParseStatus::complete: {
      // Keep the head buffer alive through routing: early body bytes point into it.
      auto head = std::move(head_);
      const std::string_view early_body = received.substr(head->parser.head_length());
      worker_.handle_request(*this, head->parser.head(), early_body);
      return;
    }
  }
}

// A read ended inside the head: what came so far moves out of the scratch buffer into bytes of
// this connection's own, where the next reads continue it.
void Connection::keep_head_bytes(const char* bytes) {
  if (state_ != State::reading_head || !head_ || head_->bytes || head_->used == 0) return;
  head_->bytes = std::make_unique_for_overwrite<char[]>(head_->capacity);
  std::memcpy(head_->bytes.get(), bytes, head_->used);
}

void Connection::become_source(std::unique_ptr<SourceSession> source, std::string_view early_body,
                               std::uint64_t now_ms) {
  state_ = State::source;
  source_ = std::move(source);
  source_->start(early_body, now_ms);
  worker_.recheck(*this);
}

void Connection::become_viewer(std::unique_ptr<ViewerSession> viewer) {
  state_ = State::viewer;
  viewer_ = std::move(viewer);
  worker_.recheck(*this);
}

std::error_code Connection::restart_reading() { return tcp_.read_start(); }

int Connection::fd() const { return tcp_.fd(); }

void Connection::read_pending() {
  const int fd = this->fd();
  if (fd < 0) return;
  // As libuv reads: into the span the alloc callback gives, until the kernel has less than it.
  for (int reads = 0; reads < kMaxPendingReads && state_ == State::source && !source_->paused(); ++reads) {
    uv_buf_t buffer;
    on_alloc(&buffer);
    if (buffer.len == 0) {
      on_read(uv::error(UV_ENOBUFS), 0, &buffer);
      return;
    }
    const ssize_t n = ::recv(fd, buffer.base, buffer.len, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      on_read(n < 0 ? uv::from_errno(errno) : uv::error(UV_EOF), 0, &buffer);
    } else {
      on_read({}, static_cast<std::size_t>(n), &buffer);
    }
    if (n <= 0 || static_cast<std::size_t>(n) < buffer.len) return;
  }
}

void Connection::respond(const Response& response, bool head_only) {
  write_then_shutdown(head_only ? render_head(response) : render(response));
}

void Connection::write_then_shutdown(std::string text) {
  if (state_ == State::closed) return;
  head_.reset();
  state_ = State::lingering;
  if (const std::error_code error = tcp_.write_copy(std::move(text))) {
    close(error.message());
    return;
  }
  shutdown_then_close();
}

void Connection::shutdown_then_close(std::string_view why) {
  if (state_ == State::closed) return;
  note_end(why);
  announce_leaving();
  if (viewer_) viewer_->detach();
  state_ = State::lingering;
  lingering_since_ms_ = monotonic_ms();
  worker_.recheck(*this);
  // The shutdown runs after queued writes; the peer then sees EOF. We keep draining its bytes
  // until it closes too (or the sweep's linger limit), so it never gets a reset mid-response.
  if (const std::error_code error = tcp_.shutdown<&Connection::on_shutdown, Connection>()) close(error.message());
}

void Connection::on_shutdown(std::error_code error) {
  if (error && error != uv::error(UV_ECANCELED)) close(error.message());
}

void Connection::close(std::string_view why) {
  if (state_ == State::closed) return;
  spdlog::debug("connection {} {} closing: {}", id_, peer_, why);
  note_end(why);
  if (pending_admin_) {
    pending_admin_->origin = nullptr;  // the answer, when it comes, has nowhere to go
    pending_admin_.reset();
  }
  if (pending_auth_) {
    worker_.auth().cancel(*pending_auth_);
    pending_auth_.reset();
  }
  if (pending_origin_) {
    worker_.cancel_origin_wait(*pending_origin_);
    pending_origin_.reset();
  }
  announce_leaving();
  if (viewer_) viewer_->detach();
  if (source_) source_->detach(monotonic_ms());
  state_ = State::closed;
  head_.reset();
  // Closing the fd here ends any in-flight write at once: libuv never touches its ring memory
  // again (the write callback later reports UV_ECANCELED). The object lives until on_closed.
  tcp_.close();
}

void Connection::await_admin(std::shared_ptr<AdminTask> task) {
  head_.reset();
  state_ = State::answering;
  pending_admin_ = std::move(task);
}

void Connection::remember_request(const RequestHead& head, std::uint64_t now_ms) {
  if (!worker_.relay().access_log().enabled()) return;
  record_ = std::make_unique<SessionRecord>();
  // The access log escapes what it writes; PeerText also keeps it UTF-8 and bounded.
  record_->method = PeerText::from(head.method_name, 32).str();
  record_->target = PeerText::from(head.target).str();
  record_->http_major = head.http_major;
  record_->http_minor = head.http_minor;
  record_->referer = PeerText::from(head.header("Referer").value_or("")).str();
  record_->user_agent = PeerText::from(head.header("User-Agent").value_or("")).str();
  record_->user = head.method == Method::put || head.method == Method::source ? "source" : "-";
  record_->start_ms = now_ms;
}

// The first reason wins: "peer closed", "slow viewer", "stream ended", an errno text...; as
// one token for the access log ("peer-closed").
void Connection::note_end(std::string_view why) {
  if (!record_ || !record_->end_reason.empty() || why.empty()) return;
  for (char c : why) {
    const auto u = static_cast<unsigned char>(c);
    record_->end_reason += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
}

void Connection::log_session_end() {
  if (!record_ || (!viewer_ && !source_)) return;
  AccessRecord entry;
  entry.peer = peer_;
  entry.user = record_->user;
  entry.method = record_->method;
  entry.target = record_->target;
  entry.http_major = record_->http_major;
  entry.http_minor = record_->http_minor;
  entry.bytes = viewer_ ? viewer_->bytes_sent() : source_->bytes_received();
  entry.referer = record_->referer;
  entry.user_agent = record_->user_agent;
  entry.unix_end_ms = unix_ms();
  entry.duration_ms = monotonic_ms() - record_->start_ms;
  entry.reason = record_->end_reason;
  worker_.relay().access_log().write(entry);
}

void Connection::on_closed() {
  log_session_end();
  worker_.connection_closed(*this);  // frees this
}

}  // namespace ringcast::relay
