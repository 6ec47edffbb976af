// libcurl's multi-socket interface on a libuv loop (auth_client.h): libcurl says which sockets
// to watch and when to time out; the loop's poll and timer handles tell it back.
#include "ringcast/auth/auth_client.h"

#include <spdlog/spdlog.h>

namespace ringcast::relay {

struct AuthClient::Request {
  std::uint64_t ticket = 0;
  CURL* easy = nullptr;
  std::string body;
  bool keep_body = false;  // a GET: the answer's body is the point
  Done done;
  Result result;
};

// One watched socket: its poll handle, freed in the close callback.
struct AuthClient::Socket {
  uv::Poll poll;
  curl_socket_t fd = CURL_SOCKET_BAD;
  AuthClient* client = nullptr;

  void on_ready(std::error_code error, int events) {
    // An error on the socket: let libcurl find it by reading and writing.
    client->on_socket_event(fd, error ? UV_READABLE | UV_WRITABLE : events);
  }
};

namespace {
constexpr std::size_t kMaxAnswerHeaders = 64;  // an auth server answers with a few
}  // namespace

AuthClient::AuthClient(uv_loop_t* loop) : loop_(loop) {
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  timer_.init<&AuthClient::on_timeout>(loop_, this);
}

AuthClient::~AuthClient() {
  close();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

std::uint64_t AuthClient::post(const std::string& url, std::string body, std::uint32_t timeout_ms, Done done) {
  auto request = std::make_unique<Request>();
  request->body = std::move(body);
  return send(url, std::move(request), timeout_ms, std::move(done));
}

std::uint64_t AuthClient::get(const std::string& url, std::uint32_t timeout_ms, Done done) {
  auto request = std::make_unique<Request>();
  request->keep_body = true;
  return send(url, std::move(request), timeout_ms, std::move(done));
}

std::uint64_t AuthClient::send(const std::string& url, std::unique_ptr<Request> request, std::uint32_t timeout_ms,
                               Done done) {
  request->ticket = next_ticket_++;
  request->done = std::move(done);
  if (closed_) return 0;
  CURL* easy = curl_easy_init();
  request->easy = easy;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  if (!request->keep_body) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(request->body.size()));
  }
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "ringcast");
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, request.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, request.get());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, request.get());
  const std::uint64_t ticket = request->ticket;
  requests_.emplace(ticket, std::move(request));
  if (const CURLMcode rc = curl_multi_add_handle(multi_, easy); rc != CURLM_OK) {
    Result failed;
    failed.error = curl_multi_strerror(rc);
    auto node = requests_.extract(ticket);
    curl_easy_cleanup(easy);
    node.mapped()->done(failed);
    return 0;
  }
  return ticket;
}

void AuthClient::cancel(std::uint64_t ticket) {
  const auto found = requests_.find(ticket);
  if (found == requests_.end()) return;
  curl_multi_remove_handle(multi_, found->second->easy);
  curl_easy_cleanup(found->second->easy);
  requests_.erase(found);
}

void AuthClient::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [ticket, request] : requests_) {
    curl_multi_remove_handle(multi_, request->easy);  // its sockets' polls are closed via socket_cb
    curl_easy_cleanup(request->easy);
  }
  requests_.clear();
  timer_.stop();
  timer_.close();
}

void AuthClient::arm_timer(long timeout_ms) {
  if (closed_) return;
  if (timeout_ms < 0) {
    timer_.stop();
    return;
  }
  timer_.start(static_cast<std::uint64_t>(timeout_ms));
}

void AuthClient::on_timeout() {
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  finish_completed();
}

void AuthClient::on_socket_event(curl_socket_t fd, int events) {
  int flags = 0;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  finish_completed();
}

void AuthClient::finish_completed() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    Request* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    const CURLcode code = message->data.result;
    curl_multi_remove_handle(multi_, easy);
    auto node = requests_.extract(raw->ticket);
    Request& request = *node.mapped();
    if (code == CURLE_OK) {
      request.result.transport_ok = true;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &request.result.status);
    } else {
      request.result.error = curl_easy_strerror(code);
    }
    curl_easy_cleanup(easy);
    request.done(request.result);  // may post() again: the map no longer holds this one
  }
}

int AuthClient::watch(curl_socket_t fd, int what, Socket* socket) {
  if (what == CURL_POLL_REMOVE) {
    if (socket != nullptr) {
      curl_multi_assign(multi_, fd, nullptr);
      socket->poll.stop();
      socket->poll.close_then_delete<Socket>();
    }
    return 0;
  }
  if (socket == nullptr) {
    if (closed_) return -1;
    socket = new Socket;
    socket->fd = fd;
    socket->client = this;
    if (socket->poll.init<&Socket::on_ready>(loop_, socket, fd)) {
      delete socket;
      return -1;
    }
    curl_multi_assign(multi_, fd, socket);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  socket->poll.start(events);
  return 0;
}

// libcurl callbacks

int AuthClient::socket_cb(CURL*, curl_socket_t fd, int what, void* client, void* socket) {
  return static_cast<AuthClient*>(client)->watch(fd, what, static_cast<Socket*>(socket));
}

int AuthClient::timer_cb(CURLM*, long timeout_ms, void* client) {
  static_cast<AuthClient*>(client)->arm_timer(timeout_ms);
  return 0;
}

std::size_t AuthClient::header_cb(char* data, std::size_t size, std::size_t count, void* raw) {
  auto* request = static_cast<Request*>(raw);
  std::string_view line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    request->result.headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (const std::size_t colon = line.find(':');
             colon != std::string_view::npos && request->result.headers.size() < kMaxAnswerHeaders) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    request->result.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return size * count;
}

std::size_t AuthClient::body_cb(char* data, std::size_t size, std::size_t count, void* raw) {
  auto* request = static_cast<Request*>(raw);
  // A POST's verdict is in the headers: its body is not read. A GET's is kept, bounded.
  if (request->keep_body) {
    if (request->result.body.size() + size * count > kMaxBody) return 0;  // libcurl fails the transfer
    request->result.body.append(data, size * count);
  }
  return size * count;
}

}  // namespace ringcast::relay
