// Parsing of an HTTP/1.x request head as Icecast clients send it. Pure: bytes in, a verdict
// out, no I/O, so it can be fuzzed and tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::relay {

enum class Method { get, head, put, source, options, other };

struct RequestHead {
  Method method = Method::other;
  std::string method_name;
  std::string target;  // as sent, e.g. "/live.ts?x=1"
  std::string path;    // target without query string
  unsigned http_major = 1;
  unsigned http_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;

  // Case-insensitive header lookup; the first occurrence wins.
  std::optional<std::string_view> header(std::string_view name) const;
};

enum class ParseStatus {
  incomplete,  // more bytes needed
  complete,    // head parsed; bytes after head_length belong to the body
  malformed,   // not HTTP/1.x
};

// Incremental parser: feed the whole buffer received so far each time (bytes already seen are
// skipped). Wraps Node's http_parser (Debian's libhttp-parser-dev).
class RequestHeadParser {
 public:
  RequestHeadParser();
  ~RequestHeadParser();
  RequestHeadParser(const RequestHeadParser&) = delete;
  RequestHeadParser& operator=(const RequestHeadParser&) = delete;

  // `received` is everything received on the connection so far (a growing prefix).
  ParseStatus feed(std::string_view received);
  // Valid once feed() returned complete: the length of the head, and the head itself.
  std::size_t head_length() const { return consumed_; }
  const RequestHead& head() const { return head_; }
  RequestHead& head() { return head_; }

  struct State;

 private:
  std::unique_ptr<State> state_;
  RequestHead head_;
  std::size_t consumed_ = 0;
  ParseStatus status_ = ParseStatus::incomplete;
};

// Credentials from an "Authorization: Basic ..." header value.
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> parse_basic_auth(std::string_view header_value);
// Standard base64 with padding (Basic credentials a relay sends to its origin).
std::string encode_base64(std::string_view bytes);

// Compares in time that depends only on the lengths, never on where the strings differ.
bool constant_time_equals(std::string_view a, std::string_view b);

// Whether an Authorization header value (nullopt: none sent) carries Basic credentials of
// exactly `user` and `password`, both compared in constant time.
bool basic_credentials_match(std::optional<std::string_view> authorization, std::string_view user,
                             std::string_view password);

// The value of `name` in the target's query string ("/x?mount=%2Flive.ts&id=3"),
// percent-decoded ('+' is a space). nullopt when absent or badly encoded.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);
// Whether `name` is in the query at all, so that a value query_parameter() could not decode is
// told apart from one that was never sent (a 400, not a default).
bool has_query_parameter(std::string_view target, std::string_view name);

// Whether `s` starts with `prefix`, ASCII letters compared case-insensitively (header names,
// content types).
bool starts_with_ignoring_case(std::string_view s, std::string_view prefix);
// Whether `a` and `b` are the same, ASCII letters compared case-insensitively (header names).
bool equals_ignoring_case(std::string_view a, std::string_view b);
// `s` without the blanks (spaces and tabs) around it, as header values and list entries are read.
std::string_view trim_blanks(std::string_view s);

// A Host header's host, without its port ("radio.test:8000" -> "radio.test"; "[::1]:8000" ->
// "[::1]"; no port: as it is).
std::string_view host_without_port(std::string_view host);

// A peer's address without its port, as logs and auth servers want it ("10.0.0.1:5301" ->
// "10.0.0.1"; "[::1]:5301" or "::1:5301" -> "::1").
std::string address_of(std::string_view peer);

// Mount names: "/" followed by 1..max_length characters from [A-Za-z0-9._~-/], no "..", no
// "//", no percent-encoding and no control characters. Returns the reason when invalid.
std::optional<std::string_view> mount_name_problem(std::string_view path, std::size_t max_length = 128);

}  // namespace ringcast::relay
