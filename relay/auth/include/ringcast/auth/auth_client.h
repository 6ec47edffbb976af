// An asynchronous HTTP client on a worker's loop, for the url authenticator and a slave's
// list of its master's mounts: libcurl's multi interface driven by the loop's own uv_poll_t
// and uv_timer_t, so a request never blocks the loop. One per worker; every callback runs on
// that worker's thread.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ringcast/uv/handles.h"

namespace ringcast::relay {

class AuthClient {
 public:
  struct Result {
    bool transport_ok = false;  // an HTTP answer came (any status)
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string error;  // why not, when !transport_ok ("Timeout was reached", ...)
    std::string body;   // a GET's answer (at most kMaxBody)
  };
  static constexpr std::size_t kMaxBody = 1 << 20;
  using Done = std::function<void(const Result&)>;

  explicit AuthClient(uv_loop_t* loop);
  ~AuthClient();
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  // POSTs a form to `url`; `done` runs on the loop with the answer, or a failure after
  // timeout_ms. Returns a ticket for cancel(). After close(), nothing is sent.
  std::uint64_t post(const std::string& url, std::string body, std::uint32_t timeout_ms, Done done);
  // GETs `url` (user:password in it become Basic auth); the body comes with the answer.
  std::uint64_t get(const std::string& url, std::uint32_t timeout_ms, Done done);
  // The answer is no longer wanted (the client left): `done` will not run.
  void cancel(std::uint64_t ticket);
  // Drops every request and closes the loop handles (the worker is stopping).
  void close();
  std::size_t in_flight() const { return requests_.size(); }

 private:
  struct Request;
  struct Socket;

  std::uint64_t send(const std::string& url, std::unique_ptr<Request> request, std::uint32_t timeout_ms, Done done);
  void on_timeout();
  void on_socket_event(curl_socket_t fd, int events);
  void finish_completed();
  int watch(curl_socket_t fd, int what, Socket* socket);
  void arm_timer(long timeout_ms);

  // libcurl callbacks
  static int socket_cb(CURL* easy, curl_socket_t fd, int what, void* client, void* socket);
  static int timer_cb(CURLM* multi, long timeout_ms, void* client);
  static std::size_t header_cb(char* data, std::size_t size, std::size_t count, void* request);
  static std::size_t body_cb(char* data, std::size_t size, std::size_t count, void* request);

  uv_loop_t* loop_;
  CURLM* multi_ = nullptr;
  uv::Timer timer_;
  bool closed_ = false;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Request>> requests_;
};

}  // namespace ringcast::relay
