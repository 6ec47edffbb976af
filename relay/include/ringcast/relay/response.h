// Every answer the relay sends over HTTP: a status, a header list and an optional body, made
// into bytes by one builder, so errors, pages, stream heads, HEAD and CORS preflight agree.
#pragma once

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

  Response& with_status(int code) {
    status = code;
    return *this;
  }
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
};

// The status line and headers, with what every answer carries (Server, Connection: close,
// CORS: any origin may read, and the icy-* headers are exposed to scripts), then
// Content-Length unless streaming. HEAD sends exactly this and no body.
std::string render_head(const Response& response);
// The head and the body: what GET is sent.
std::string render(const Response& response);
const char* reason_phrase(int status);

// The methods a CORS preflight may ask for, and what a 405 lists.
inline constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS, PUT, SOURCE";

}  // namespace ringcast::relay
