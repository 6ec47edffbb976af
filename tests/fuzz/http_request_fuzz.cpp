// libFuzzer target for the request-head parser and what the relay does with a parsed head:
// header lookups, Basic credentials, constant-time comparison and mount-name validation.
//
// Input: byte 0 holds the number of feeds (low 4 bits) and a small mount-length limit (high 4
// bits); the next `feeds` bytes are the sizes by which the received prefix grows per feed (0
// feeds the same prefix again); the rest is what the peer sent. After those feeds the whole
// input is fed, as the relay does when more bytes arrive.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "ringcast/http/http_request.h"

namespace {

using ringcast::relay::ParseStatus;
using ringcast::relay::RequestHead;
using ringcast::relay::RequestHeadParser;

const char* name_of(ParseStatus status) {
  switch (status) {
    case ParseStatus::incomplete:
      return "incomplete";
    case ParseStatus::complete:
      return "complete";
    case ParseStatus::malformed:
      return "malformed";
  }
  return "?";
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(alphabet[(n >> shift) & 63]);
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void check_same_head(const RequestHead& pieces, const RequestHead& whole) {
  FUZZ_CHECK(pieces.method == whole.method && pieces.method_name == whole.method_name,
             "method differs: %s fed in pieces, %s fed whole", pieces.method_name.c_str(),
             whole.method_name.c_str());
  FUZZ_CHECK(pieces.target == whole.target, "target differs: '%s' in pieces, '%s' whole",
             pieces.target.c_str(), whole.target.c_str());
  FUZZ_CHECK(pieces.path == whole.path, "path differs");
  FUZZ_CHECK(pieces.http_major == whole.http_major && pieces.http_minor == whole.http_minor,
             "version differs");
  FUZZ_CHECK(pieces.headers == whole.headers, "headers differ: %zu in pieces, %zu whole",
             pieces.headers.size(), whole.headers.size());
}

// header() is a case-insensitive lookup where the first occurrence wins.
void check_header_lookup(const RequestHead& head, std::string_view name) {
  const std::pair<std::string, std::string>* first = nullptr;
  for (const auto& header : head.headers) {
    if (equals_ignoring_case(header.first, name)) {
      first = &header;
      break;
    }
  }
  const auto found = head.header(name);
  FUZZ_CHECK(found.has_value() == (first != nullptr), "header('%.*s') presence is wrong",
             static_cast<int>(name.size()), name.data());
  if (found) {
    FUZZ_CHECK(found->data() == first->second.data() && found->size() == first->second.size(),
               "header('%.*s') is not the first occurrence's value", static_cast<int>(name.size()),
               name.data());
  }
}

void check_credentials(std::string_view authorization) {
  const auto credentials = ringcast::relay::parse_basic_auth(authorization);
  if (!credentials) return;
  FUZZ_CHECK(credentials->user.find(':') == std::string::npos, "user '%s' contains ':'",
             credentials->user.c_str());
  // Re-encoding what was decoded must decode to the same credentials.
  const std::string again = "Basic " + base64(credentials->user + ":" + credentials->password);
  const auto reparsed = ringcast::relay::parse_basic_auth(again);
  FUZZ_CHECK(reparsed && reparsed->user == credentials->user &&
                 reparsed->password == credentials->password,
             "credentials do not survive a round trip through '%s'", again.c_str());

  using ringcast::relay::constant_time_equals;
  const std::string& password = credentials->password;
  FUZZ_CHECK(constant_time_equals(credentials->user, "source") == (credentials->user == "source"),
             "constant_time_equals disagrees with == on the user");
  FUZZ_CHECK(constant_time_equals(credentials->user, password) == (credentials->user == password),
             "constant_time_equals disagrees with == on user and password");
  FUZZ_CHECK(constant_time_equals(password, std::string(password)), "a string differs from itself");
  if (!password.empty()) {
    std::string flipped = password;
    flipped[flipped.size() / 2] ^= 0x20;
    FUZZ_CHECK(!constant_time_equals(password, flipped), "one flipped byte compares equal");
    FUZZ_CHECK(!constant_time_equals(password, std::string_view(password).substr(1)),
               "a shorter string compares equal");
    FUZZ_CHECK(!constant_time_equals(password, password + '\0'),
               "a string and itself plus NUL compare equal");
  }
}

void check_mount_name(std::string_view path, std::size_t max_length) {
  if (ringcast::relay::mount_name_problem(path, max_length)) return;
  const std::string shown(path);
  FUZZ_CHECK(path.size() >= 2 && path.front() == '/', "accepted mount '%s' does not start with /",
             shown.c_str());
  FUZZ_CHECK(path.size() - 1 <= max_length, "accepted mount is longer than %zu", max_length);
  FUZZ_CHECK(path.find("..") == std::string_view::npos, "accepted mount contains ..");
  FUZZ_CHECK(path.find("//") == std::string_view::npos, "accepted mount contains //");
  FUZZ_CHECK(path.find('%') == std::string_view::npos, "accepted mount contains %%");
  FUZZ_CHECK(path.back() != '/', "accepted mount ends with /");
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 0x20 && u < 0x7f, "accepted mount has byte 0x%02x", u);
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' || c == '-' ||
                         c == '/';
    FUZZ_CHECK(allowed, "accepted mount has '%c' outside [A-Za-z0-9._~-/]", c);
  }
}

// query_parameter on a hostile target: the value is within the query and decoding never grows it.
void check_query(std::string_view target) {
  for (std::string_view name : {"mount", "id", ""}) {
    const auto value = ringcast::relay::query_parameter(target, name);
    if (!value) continue;
    FUZZ_CHECK(target.find('?') != std::string_view::npos, "a value without a query string");
    FUZZ_CHECK(value->size() <= target.size(), "decoded value longer than the target");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t feeds = std::min<std::size_t>(data[0] & 0x0f, size - 1);
  const std::size_t small_mount_limit = 1 + (data[0] >> 4);
  const std::uint8_t* growth = data + 1;
  const std::string_view received(reinterpret_cast<const char*>(data + 1 + feeds),
                                  size - 1 - feeds);

  // Fed in pieces, as the bytes trickle in; a verdict other than incomplete is final.
  RequestHeadParser pieces;
  std::size_t prefix = 0;
  ParseStatus status = ParseStatus::incomplete;
  std::size_t length_when_complete = 0;
  for (std::size_t i = 0; i <= feeds; ++i) {
    prefix = i == feeds ? received.size() : std::min(received.size(), prefix + growth[i]);
    const ParseStatus now = pieces.feed(received.substr(0, prefix));
    if (status != ParseStatus::incomplete) {
      FUZZ_CHECK(now == status, "verdict %s changed to %s at a prefix of %zu bytes",
                 name_of(status), name_of(now), prefix);
    }
    if (now == ParseStatus::complete) {
      if (status == ParseStatus::complete) {
        FUZZ_CHECK(pieces.head_length() == length_when_complete,
                   "head_length moved after complete");
      }
      length_when_complete = pieces.head_length();
      FUZZ_CHECK(length_when_complete <= prefix, "head_length %zu beyond the %zu bytes fed",
                 length_when_complete, prefix);
    }
    status = now;
  }
  FUZZ_CHECK(pieces.feed(received) == status, "feeding the same bytes again changed the verdict");

  RequestHeadParser whole;
  const ParseStatus whole_status = whole.feed(received);
  FUZZ_CHECK(whole_status == status, "fed whole: %s, fed in %zu pieces: %s", name_of(whole_status),
             feeds + 1, name_of(status));

  // What needs no complete head: the decoders on raw bytes.
  check_credentials(received);
  check_mount_name(received, 128);
  check_query(received);

  if (status != ParseStatus::complete) return 0;
  const std::size_t head_length = whole.head_length();
  FUZZ_CHECK(head_length == pieces.head_length(), "head_length fed whole %zu, in pieces %zu",
             head_length, pieces.head_length());
  FUZZ_CHECK(head_length >= 1 && head_length <= received.size(), "head_length %zu of %zu bytes",
             head_length, received.size());
  // The body starts right after the head's final line feed (seed cr_terminated_head: the
  // lenient http_parser once ended a head at CR plus any byte).
  FUZZ_CHECK(received[head_length - 1] == '\n',
             "the head ends in 0x%02x, not a line feed",
             static_cast<unsigned char>(received[head_length - 1]));
  check_same_head(pieces.head(), whole.head());

  // The head alone completes at its end, and one byte less does not.
  RequestHeadParser exact;
  FUZZ_CHECK(exact.feed(received.substr(0, head_length)) == ParseStatus::complete &&
                 exact.head_length() == head_length,
             "the head's own %zu bytes do not complete it", head_length);
  RequestHeadParser short_by_one;
  FUZZ_CHECK(short_by_one.feed(received.substr(0, head_length - 1)) != ParseStatus::complete,
             "a head of %zu bytes completes one byte early", head_length);

  const RequestHead& head = whole.head();
  FUZZ_CHECK(head.target.compare(0, head.path.size(), head.path) == 0,
             "path is not a prefix of the target");
  FUZZ_CHECK(head.path.find('?') == std::string::npos, "path contains ?");

  for (std::string_view name :
       {"Authorization", "authorization", "Host", "Expect", "Content-Type", "Content-Length",
        "Transfer-Encoding", "Ice-Name", "User-Agent", "Icy-MetaData", ""}) {
    check_header_lookup(head, name);
  }
  for (const auto& header : head.headers) check_header_lookup(head, header.first);

  if (const auto authorization = head.header("Authorization")) check_credentials(*authorization);
  check_mount_name(head.path, 128);
  check_mount_name(head.path, small_mount_limit);
  return 0;
}
