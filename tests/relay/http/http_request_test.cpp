#include "ringcast/http/http_request.h"

#include <catch2/catch.hpp>

#include <string>

using namespace ringcast::relay;

TEST_CASE("a source's PUT head is parsed and the body behind it is left alone", "[http]") {
  const std::string head =
      "PUT /live.ts HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c291cmNlOnB3\r\n"
      "Content-Type: video/mp2t\r\nIce-Name: test\r\nExpect: 100-continue\r\n\r\n";
  const std::string received = head + "\x47 body bytes";
  RequestHeadParser parser;
  REQUIRE(parser.feed(received) == ParseStatus::complete);
  CHECK(parser.head_length() == head.size());
  const RequestHead& request = parser.head();
  CHECK(request.method == Method::put);
  CHECK(request.path == "/live.ts");
  CHECK(request.http_major == 1);
  CHECK(request.http_minor == 1);
  CHECK(request.header("content-type") == "video/mp2t");
  CHECK(request.header("ICE-NAME") == "test");
  CHECK(request.header("Expect") == "100-continue");
  CHECK_FALSE(request.header("Content-Length"));
}

TEST_CASE("the legacy SOURCE verb is recognised", "[http]") {
  RequestHeadParser parser;
  REQUIRE(parser.feed("SOURCE /radio HTTP/1.0\r\nAuthorization: Basic eDp5\r\n\r\n") ==
          ParseStatus::complete);
  CHECK(parser.head().method == Method::source);
}

TEST_CASE("a head that arrives byte by byte completes exactly at its end", "[http]") {
  const std::string head = "GET /a.mp3?x=1 HTTP/1.0\r\nUser-Agent: VLC/3.0\r\nIcy-MetaData: 1\r\n\r\n";
  RequestHeadParser parser;
  for (std::size_t n = 1; n < head.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    REQUIRE(parser.feed(std::string_view(head).substr(0, n)) == ParseStatus::incomplete);
  }
  REQUIRE(parser.feed(head) == ParseStatus::complete);
  CHECK(parser.head_length() == head.size());
  CHECK(parser.head().method == Method::get);
  CHECK(parser.head().path == "/a.mp3");
  CHECK(parser.head().target == "/a.mp3?x=1");
  CHECK(parser.head().header("user-agent") == "VLC/3.0");
}

TEST_CASE("garbage and binary heads are malformed", "[http]") {
  for (std::string garbage : {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
                              std::string("HELLO\r\n\r\n"), std::string("GET / FTP/1.0\r\n\r\n"),
                              std::string("GET /x HTTP/1.1\r\nBad Header\r\n\r\n")}) {
    RequestHeadParser parser;
    CAPTURE(garbage);
    CHECK(parser.feed(garbage) == ParseStatus::malformed);
  }
}

TEST_CASE("a head whose blank line ends in CR and another byte is malformed, not complete", "[http]") {
  // Found by tests/fuzz/http_request_fuzz: the lenient parser took "\r" + any byte as the end.
  RequestHeadParser parser;
  CHECK(parser.feed("GET / HTTP/1.1\r\n\rX") == ParseStatus::malformed);
}

TEST_CASE("an unknown method parses and is reported as other", "[http]") {
  RequestHeadParser parser;
  REQUIRE(parser.feed("DELETE /x HTTP/1.1\r\n\r\n") == ParseStatus::complete);
  CHECK(parser.head().method == Method::other);
  CHECK(parser.head().method_name == "DELETE");
}

TEST_CASE("Basic credentials decode, anything else is refused", "[http][auth]") {
  auto credentials = parse_basic_auth("Basic c291cmNlOmhhY2ttZQ==");
  REQUIRE(credentials);
  CHECK(credentials->user == "source");
  CHECK(credentials->password == "hackme");
  CHECK(parse_basic_auth("  basic   c291cmNlOnB3  ")->password == "pw");
  CHECK(parse_basic_auth("Basic c291cmNlOjp3Ojo=")->password == ":w::");  // colons in passwords
  CHECK_FALSE(parse_basic_auth("Bearer abc"));
  CHECK_FALSE(parse_basic_auth("Basic"));
  CHECK_FALSE(parse_basic_auth("Basic !!!!"));
  CHECK_FALSE(parse_basic_auth("Basic bm9jb2xvbg=="));  // "nocolon"
  CHECK_FALSE(parse_basic_auth("Basic c291=cmNl"));     // data after padding
}

TEST_CASE("constant-time comparison compares", "[auth]") {
  CHECK(constant_time_equals("hackme", "hackme"));
  CHECK_FALSE(constant_time_equals("hackme", "hackmf"));
  CHECK_FALSE(constant_time_equals("hackme", "hackme2"));
  CHECK_FALSE(constant_time_equals("", "x"));
  CHECK(constant_time_equals("", ""));
}

TEST_CASE("mount names refuse path tricks", "[http][mount]") {
  CHECK_FALSE(mount_name_problem("/live.ts"));
  CHECK_FALSE(mount_name_problem("/radio/jazz-128.mp3"));
  for (const char* bad : {"/", "", "live", "/../etc/passwd", "/a/../b", "/a%2e%2e", "/a//b",
                          "/a/", "/a b", "/a\x01", "/caf\xc3\xa9"}) {
    CAPTURE(bad);
    CHECK(mount_name_problem(bad));
  }
  CHECK(mount_name_problem("/" + std::string(129, 'a')));
  CHECK_FALSE(mount_name_problem("/" + std::string(128, 'a')));
}

TEST_CASE("query parameters are found and percent-decoded", "[http][query]") {
  CHECK(query_parameter("/admin/listclients?mount=/live.ts", "mount") == "/live.ts");
  CHECK(query_parameter("/admin/killclient?mount=%2Flive.ts&id=42", "mount") == "/live.ts");
  CHECK(query_parameter("/admin/killclient?mount=%2Flive.ts&id=42", "id") == "42");
  CHECK(query_parameter("/x?a=1+2&b", "a") == "1 2");
  CHECK(query_parameter("/x?a=1&b", "b") == "");
  CHECK(query_parameter("/x?ab=1", "a") == std::nullopt);
  CHECK(query_parameter("/x", "a") == std::nullopt);
  CHECK(query_parameter("/x?a=%zz", "a") == std::nullopt);  // bad escapes: no value at all
  CHECK(query_parameter("/x?a=%4", "a") == std::nullopt);
  CHECK(query_parameter("/x?a=%", "a") == std::nullopt);
  CHECK(query_parameter("/x?a=1&a=2", "a") == "1");  // the first wins
}

TEST_CASE("Basic credentials match only the exact user and password", "[auth]") {
  const std::string header = "Basic " + std::string("c291cmNlOmhhY2ttZQ==");  // source:hackme
  CHECK(basic_credentials_match(header, "source", "hackme"));
  CHECK_FALSE(basic_credentials_match(header, "admin", "hackme"));
  CHECK_FALSE(basic_credentials_match(header, "source", "hackm"));
  CHECK_FALSE(basic_credentials_match(std::nullopt, "source", "hackme"));
  CHECK_FALSE(basic_credentials_match("Bearer c291cmNlOmhhY2ttZQ==", "source", "hackme"));
}
