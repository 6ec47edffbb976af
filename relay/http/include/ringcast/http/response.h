// Every answer the relay sends over HTTP: a status, a header list and an optional body, made
// into bytes by one builder, so errors, pages, stream heads, HEAD and CORS preflight agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::relay {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";  // empty: no Content-Type
  std::vector<std::pair<std::string, std::string>> headers;  // beyond the common ones
  std::string body;
  // A live stream's head: no Content-Length, the body runs until the connection closes.
  bool streaming = false;
  // A body sent apart from `body` (an HLS segment, views of the ring): its length.
  std::optional<std::uint64_t> content_length;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // A short text answer (refusals: "no such mount\n").
  static Response text(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
  }
  static Response ok(std::string content_type, std::string body) {
    Response response;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    return response;
  }
  // 401 with a Basic challenge for `realm`.
  static Response challenge(std::string body, std::string_view realm) {
    Response response = text(401, std::move(body));
    response.header("WWW-Authenticate", "Basic realm=\"" + std::string(realm) + "\"");
    return response;
  }
  // One of Icecast's XML admin answers (icecast.h), as Icecast sends them.
  static Response icecast_xml(int status, std::string body) {
    Response response = ok("text/xml; charset=utf-8", std::move(body));
    response.status = status;
    return response;
  }
};

// The status line and headers, with what every answer carries (Server, Connection: close,
// CORS: any origin may read, and the icy-* headers are exposed to scripts; Cache-Control:
// no-cache unless the response sets its own), then Content-Length unless streaming. HEAD sends
// exactly this and no body.
std::string render_head(const Response& response);
// The head and the body: what GET is sent.
std::string render(const Response& response);
const char* reason_phrase(int status);

// The Basic realms of sources and listeners, and of the admin interface.

// The methods a CORS preflight may ask for, and what a 405 lists.
inline constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS, PUT, SOURCE";

}  // namespace ringcast::relay
