// Parsing of an HTTP/1.x response head, as an edge reads its origin's answer to a viewer request
// (Icecast 2.4, ringcast, or SHOUTcast's "ICY 200 OK"). Pure: bytes in, a verdict out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::relay {

struct ResponseHead {
  unsigned status = 0;
  std::string reason;
  bool icy = false;  // the status line was "ICY 200 OK"
  unsigned http_major = 1;
  unsigned http_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // values without surrounding blanks

  // Case-insensitive header lookup; the first occurrence wins.
  std::optional<std::string_view> header(std::string_view name) const;
};

enum class ResponseParseStatus {
  incomplete,  // the head has not ended yet (and is within max_head)
  complete,    // parsed; bytes from head_length on are the body
  malformed,   // not an HTTP/1.x or ICY response, or a head longer than max_head
};

struct ResponseParse {
  ResponseParseStatus status = ResponseParseStatus::incomplete;
  std::size_t head_length = 0;  // when complete: the head's bytes, its blank line included
  std::string_view error;       // when malformed: why, for the log (static text)
};

// `received` is everything read so far (a growing prefix). Lines end in CRLF or a bare LF; the
// head ends at an empty line. `head` is filled when complete.
ResponseParse parse_response_head(std::string_view received, ResponseHead& head,
                                  std::size_t max_head = 16 * 1024);

}  // namespace ringcast::relay
