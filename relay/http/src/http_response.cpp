#include "ringcast/http/http_response.h"

#include <algorithm>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {
namespace {

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u >= 127) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

bool parse_status_code(std::string_view digits, unsigned& status) {
  if (digits.size() != 3) return false;
  status = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    status = status * 10 + static_cast<unsigned>(c - '0');
  }
  return status >= 100;
}

ResponseParse malformed(std::string_view why) {
  ResponseParse parse;
  parse.status = ResponseParseStatus::malformed;
  parse.error = why;
  return parse;
}

// "HTTP/1.1 200 OK" or "ICY 200 OK".
bool parse_status_line(std::string_view line, ResponseHead& head, std::string_view& error) {
  std::string_view rest;
  if (line.starts_with("HTTP/")) {
    if (line.size() < 8 || line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' ||
        line[7] > '9') {
      error = "bad HTTP version";
      return false;
    }
    head.http_major = static_cast<unsigned>(line[5] - '0');
    head.http_minor = static_cast<unsigned>(line[7] - '0');
    if (head.http_major != 1) {
      error = "not HTTP/1.x";
      return false;
    }
    head.icy = false;
    rest = line.substr(8);
  } else if (line.starts_with("ICY")) {
    head.icy = true;
    head.http_major = 1;
    head.http_minor = 0;
    rest = line.substr(3);
  } else {
    error = "not an HTTP response";
    return false;
  }
  if (rest.empty() || rest.front() != ' ') {
    error = "bad status line";
    return false;
  }
  rest.remove_prefix(1);
  const std::size_t space = rest.find(' ');
  if (!parse_status_code(rest.substr(0, space), head.status)) {
    error = "bad status code";
    return false;
  }
  head.reason = space == std::string_view::npos ? std::string()
                                                : std::string(trim_blanks(rest.substr(space + 1)));
  return true;
}

}  // namespace

std::optional<std::string_view> ResponseHead::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

ResponseParse parse_response_head(std::string_view received, ResponseHead& head,
                                  std::size_t max_head) {
  head.headers.clear();
  // Reject at once what cannot begin a response, so garbage fails on its first bytes.
  const std::size_t probe = std::min<std::size_t>(received.size(), 5);
  if (!std::string_view("HTTP/").starts_with(received.substr(0, probe)) &&
      !(received.size() >= 3 ? received.starts_with("ICY")
                             : std::string_view("ICY").starts_with(received))) {
    return malformed("not an HTTP response");
  }
  std::size_t at = 0;
  bool first = true;
  while (true) {
    const std::size_t lf = received.find('\n', at);
    if (lf == std::string_view::npos) {
      if (received.size() > max_head) return malformed("response head too long");
      return {};
    }
    if (lf + 1 > max_head) return malformed("response head too long");
    std::string_view line = received.substr(at, lf - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = lf + 1;
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 32 && c != '\t') || u == 127) return malformed("control character in response head");
    }
    if (first) {
      std::string_view error;
      if (!parse_status_line(line, head, error)) return malformed(error);
      first = false;
      continue;
    }
    if (line.empty()) {
      ResponseParse parse;
      parse.status = ResponseParseStatus::complete;
      parse.head_length = at;
      return parse;
    }
    if (line.front() == ' ' || line.front() == '\t') return malformed("folded header line");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return malformed("header line without a name");
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_token_char(c)) return malformed("bad header name");
    }
    head.headers.emplace_back(std::string(name), std::string(trim_blanks(line.substr(colon + 1))));
  }
}

}  // namespace ringcast::relay
