// The one response builder (response.h).
#include "ringcast/http/response.h"

#include <strings.h>

namespace ringcast::relay {

namespace {

// Browsers hide response headers from scripts unless they are listed: web players read these.
constexpr std::string_view kExposedHeaders =
    "icy-metaint, icy-name, icy-genre, icy-description, icy-url, icy-pub, icy-br, "
    "ice-audio-info, Content-Range, X-Timeshift";

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "OK" : "Error";
  }
}

std::string render_head(const Response& response) {
  std::string out;
  out.reserve(256 + response.headers.size() * 48);
  out += "HTTP/1.0 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reason_phrase(response.status);
  out += "\r\n";
  append_header(out, "Server", "ringcast");
  if (!response.content_type.empty()) append_header(out, "Content-Type", response.content_type);
  if (!response.streaming) {
    append_header(out, "Content-Length", std::to_string(response.content_length.value_or(response.body.size())));
  }
  append_header(out, "Connection", "close");
  append_header(out, "Access-Control-Allow-Origin", "*");
  append_header(out, "Access-Control-Expose-Headers", kExposedHeaders);
  bool cache_control = false;
  for (const auto& [name, value] : response.headers) {
    append_header(out, name, value);
    cache_control = cache_control || strcasecmp(name.c_str(), "Cache-Control") == 0;
  }
  // Live numbers and refusals go stale at once: nothing the relay answers is to be cached,
  // unless the answer says how itself.
  if (!cache_control) append_header(out, "Cache-Control", "no-cache");
  out += "\r\n";
  return out;
}

std::string render(const Response& response) {
  std::string out = render_head(response);
  out += response.body;
  return out;
}

}  // namespace ringcast::relay
