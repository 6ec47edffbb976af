// Access log lines: Combined Log Format plus duration and end reason, safe to parse whatever
// the client sent.
#include <catch2/catch.hpp>

#include "ringcast/ops/access_log.h"

using ringcast::relay::AccessRecord;
using ringcast::relay::format_access_line;

TEST_CASE("an access line is the Combined Log Format plus duration and reason", "[access-log]") {
  AccessRecord record;
  record.peer = "192.0.2.7:51234";
  record.user = "-";
  record.method = "GET";
  record.target = "/live.ts";
  record.http_major = 1;
  record.http_minor = 1;
  record.bytes = 1572864;
  record.user_agent = "mpv 0.35.1";
  record.unix_end_ms = 1'764'596'712'345;  // 2025-12-01T13:45:12.345Z
  record.duration_ms = 12'503;
  record.reason = "peer-closed";
  CHECK(format_access_line(record) ==
        "192.0.2.7 - - [01/Dec/2025:13:45:12 +0000] \"GET /live.ts HTTP/1.1\" 200 1572864 \"-\" "
        "\"mpv 0.35.1\" 12.503 peer-closed");
}

TEST_CASE("access lines escape what clients send and strip IPv6 brackets", "[access-log]") {
  AccessRecord record;
  record.peer = "[::1]:8000";
  record.user = "source";
  record.method = "PUT";
  record.target = "/a.ts";
  record.referer = "x\"y";
  record.user_agent = "evil\n127.0.0.1 - - fake line\\";
  record.duration_ms = 7;
  const std::string line = format_access_line(record);
  CHECK(line.rfind("::1 - source [", 0) == 0);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find("\"x\\\"y\"") != std::string::npos);
  CHECK(line.find("\"evil\\x0a127.0.0.1 - - fake line\\\\\"") != std::string::npos);
  CHECK(line.find(" 0.007 -") != std::string::npos);  // no reason: "-"
}
