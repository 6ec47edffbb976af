// Request-head parsing on top of http_parser: the parser is paused at the end of the head so
// that body bytes a source pipelines right behind its head are left for the ring.
#include "ringcast/http/http_request.h"

#include <http_parser.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <strings.h>

namespace ringcast::relay {

struct RequestHeadParser::State {
  http_parser parser{};
  http_parser_settings settings{};
  RequestHead* head = nullptr;
  bool last_was_value = false;
  bool headers_done = false;
};

namespace {

RequestHeadParser::State& state_of(http_parser* parser) {
  return *static_cast<RequestHeadParser::State*>(parser->data);
}

Method method_of(unsigned method) {
  switch (method) {
    case HTTP_GET: return Method::get;
    case HTTP_HEAD: return Method::head;
    case HTTP_PUT: return Method::put;
    case HTTP_SOURCE: return Method::source;
    case HTTP_OPTIONS: return Method::options;
    default: return Method::other;
  }
}

// http_parser callbacks
int on_url(http_parser* parser, const char* at, std::size_t length) {
  state_of(parser).head->target.append(at, length);
  return 0;
}

int on_header_field(http_parser* parser, const char* at, std::size_t length) {
  auto& state = state_of(parser);
  if (state.last_was_value || state.head->headers.empty()) state.head->headers.emplace_back();
  state.head->headers.back().first.append(at, length);
  state.last_was_value = false;
  return 0;
}

int on_header_value(http_parser* parser, const char* at, std::size_t length) {
  auto& state = state_of(parser);
  if (state.head->headers.empty()) return 1;
  state.head->headers.back().second.append(at, length);
  state.last_was_value = true;
  return 0;
}

int on_headers_complete(http_parser* parser) {
  auto& state = state_of(parser);
  state.headers_done = true;
  http_parser_pause(parser, 1);  // stop exactly at the end of the head
  return 0;
}

}  // namespace

std::optional<std::string_view> RequestHead::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (equals_ignoring_case(field, name)) return std::string_view(value);
  }
  return std::nullopt;
}

RequestHeadParser::RequestHeadParser() : state_(std::make_unique<State>()) {
  http_parser_init(&state_->parser, HTTP_REQUEST);
  state_->parser.data = state_.get();
  state_->head = &head_;
  state_->settings.on_url = on_url;
  state_->settings.on_header_field = on_header_field;
  state_->settings.on_header_value = on_header_value;
  state_->settings.on_headers_complete = on_headers_complete;
}

RequestHeadParser::~RequestHeadParser() = default;

ParseStatus RequestHeadParser::feed(std::string_view received) {
  if (status_ != ParseStatus::incomplete || received.size() <= consumed_) return status_;
  const std::string_view fresh = received.substr(consumed_);
  const std::size_t parsed =
      http_parser_execute(&state_->parser, &state_->settings, fresh.data(), fresh.size());
  consumed_ += parsed;
  const auto error = HTTP_PARSER_ERRNO(&state_->parser);
  if (state_->headers_done) {
    // Paused inside on_headers_complete, http_parser 2.9 stops just before the head's final
    // '\n': count it, so that head_length() is where the body starts.
    // Debian's http_parser is built lenient and also ends a head on "\r" plus any byte: that
    // is no head end (the byte would reach the ring as body), so refuse it.
    if (consumed_ >= received.size() || received[consumed_] != '\n') {
      status_ = ParseStatus::malformed;
      return status_;
    }
    ++consumed_;
    head_.method = method_of(state_->parser.method);
    head_.method_name = http_method_str(static_cast<http_method>(state_->parser.method));
    head_.http_major = state_->parser.http_major;
    head_.http_minor = state_->parser.http_minor;
    head_.path = head_.target.substr(0, head_.target.find('?'));
    status_ = ParseStatus::complete;
  } else if (error != HPE_OK) {
    status_ = ParseStatus::malformed;
  }
  return status_;
}

std::string encode_base64(std::string_view bytes) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[n >> 18];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (const std::size_t left = bytes.size() - i; left > 0) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (left == 2) n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += alphabet[n >> 18];
    out += alphabet[(n >> 12) & 63];
    out += left == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

std::optional<std::string> decode_base64(std::string_view text) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    const auto index = alphabet.find(c);
    if (index == std::string_view::npos) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  if (padding > 2 || (text.size() % 4 != 0 && padding > 0)) return std::nullopt;
  return out;
}


}  // namespace

std::optional<BasicCredentials> parse_basic_auth(std::string_view header_value) {
  header_value = trim_blanks(header_value);
  constexpr std::string_view scheme = "basic ";
  if (header_value.size() <= scheme.size() ||
      strncasecmp(header_value.data(), scheme.data(), scheme.size()) != 0) {
    return std::nullopt;
  }
  const auto decoded = decode_base64(trim_blanks(header_value.substr(scheme.size())));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Walk the longer length whatever the contents, so timing reveals lengths at most.
  const std::size_t length = std::max(a.size(), b.size());
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < length; ++i) {
    const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

bool basic_credentials_match(std::optional<std::string_view> authorization, std::string_view user,
                             std::string_view password) {
  const auto credentials = authorization ? parse_basic_auth(*authorization) : std::nullopt;
  return credentials && constant_time_equals(credentials->user, user) &&
         constant_time_equals(credentials->password, password);
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool has_query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return false;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.substr(0, pair.find('=')) == name) return true;
  }
  return false;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        const int high = hex_value(raw[i + 1]);
        const int low = hex_value(raw[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        value += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> mount_name_problem(std::string_view path, std::size_t max_length) {
  if (path.size() < 2 || path.front() != '/') return "mount must start with / and name something";
  if (path.size() - 1 > max_length) return "mount name too long";
  if (path.find("..") != std::string_view::npos) return "mount name contains ..";
  if (path.find("//") != std::string_view::npos) return "mount name contains //";
  if (path.back() == '/') return "mount name ends with /";
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool allowed = std::isalnum(u) || c == '.' || c == '_' || c == '~' || c == '-' || c == '/';
    if (!allowed) return "mount name has a character outside [A-Za-z0-9._~-/]";
  }
  return std::nullopt;
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && starts_with_ignoring_case(a, b);
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view host_without_port(std::string_view host) {
  const std::size_t colon = host.rfind(':');
  // A colon inside an [IPv6] literal is not a port's.
  if (colon == std::string_view::npos || host.find(']', colon) != std::string_view::npos) return host;
  return host.substr(0, colon);
}

std::string address_of(std::string_view peer) {
  const auto colon = peer.rfind(':');
  std::string_view host = colon == std::string_view::npos ? peer : peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

}  // namespace ringcast::relay
