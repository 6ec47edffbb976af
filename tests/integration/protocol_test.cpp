// The HTTP edge as clients see it: every refusal status, and the ways a source may start
// (PUT with or without Expect: 100-continue, the legacy SOURCE verb, body bytes in the head's
// packet).
#include <catch2/catch.hpp>

#include <memory>

#include "harness.h"

using namespace ringcast::integration;

namespace {

std::string source_head(const std::string& mount, std::string_view password) {
  SourceOptions options;
  options.mount = mount;
  options.password = std::string(password);
  return source_request_head(options);
}

int status_of(std::uint16_t port, std::string_view request) { return http_exchange(port, request).head.status; }

}  // namespace

TEST_CASE("a malformed request head gets 400", "[protocol]") {
  RelayProcess relay;
  CHECK(status_of(relay.port(), "\x01\x02 garbage \xff\r\n\r\n") == 400);
  CHECK(status_of(relay.port(), "GET /live.ts HTTP/1.0\r\nBad\x01Header: x\r\n\r\n") == 400);
  CHECK(status_of(relay.port(), "GET /a\x7f" "b HTTP/1.0\r\n\r\n") == 400);
  CHECK(fetch_stats(relay.port()).at("refused").at("bad_request") == 3);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("mount names that try path tricks get 400", "[protocol]") {
  RelayProcess relay;
  for (const std::string mount : {"/../x", "/a/../../etc/passwd", "/a%2e%2e", "/%2e%2e/x", "/a//b", "/x/"}) {
    INFO("mount " << mount);
    CHECK(status_of(relay.port(), "GET " + mount + " HTTP/1.0\r\n\r\n") == 400);
    CHECK(status_of(relay.port(), source_head(mount, kPassword)) == 400);
  }
  // None of them created a mount.
  CHECK(fetch_stats(relay.port()).at("mounts").empty());
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a source without credentials or with a wrong password gets 401 with a challenge", "[protocol]") {
  RelayProcess relay;
  const Response anonymous =
      http_exchange(relay.port(), "PUT /live.ts HTTP/1.1\r\nContent-Type: video/mp2t\r\nExpect: 100-continue\r\n\r\n");
  CHECK(anonymous.head.status == 401);
  CHECK(anonymous.head.header("WWW-Authenticate").value_or("").find("Basic") == 0);

  const Response wrong = http_exchange(relay.port(), source_head("/live.ts", "not-the-password"));
  CHECK(wrong.head.status == 401);
  CHECK(wrong.head.header("WWW-Authenticate").has_value());

  const std::string request = "SOURCE /live.ts HTTP/1.0\r\nAuthorization: " + basic_auth("admin", kPassword) +
                              "\r\nContent-Type: audio/mpeg\r\n\r\n";
  CHECK(status_of(relay.port(), request) == 401);

  CHECK(fetch_stats(relay.port()).at("refused").at("auth") == 3);
  CHECK(fetch_stats(relay.port()).at("mounts").empty());
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a second source on a live mount gets 403 and the first keeps broadcasting", "[protocol]") {
  RelayProcess relay;
  SourceConnection first = connect_source(relay.port());
  CHECK(status_of(relay.port(), source_head("/live.ts", kPassword)) == 403);

  Viewer viewer(relay.port(), "/live.ts");
  const auto bytes = pattern(0, 100 * kPacketBytes);
  send_all(first.socket, bytes, Clock::now() + 10s);
  first.socket.close();
  CHECK(wait_until([&] { return viewer.received() == bytes.size(); }, 10s));
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  CHECK(fetch_stats(relay.port()).at("refused").at("mount_in_use") == 1);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a viewer of an unknown mount gets 404", "[protocol]") {
  RelayProcess relay;
  CHECK(status_of(relay.port(), "GET /nothing-here.ts HTTP/1.0\r\n\r\n") == 404);
  CHECK(status_of(relay.port(), "HEAD /nothing-here.ts HTTP/1.0\r\n\r\n") == 404);
  CHECK(fetch_stats(relay.port()).at("refused").at("not_found") == 2);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("other methods get 405 with an Allow header", "[protocol]") {
  RelayProcess relay;
  for (const char* method : {"DELETE", "POST", "PATCH"}) {
    INFO(method);
    const Response response = http_exchange(relay.port(), std::string(method) + " /live.ts HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(response.head.status == 405);
    const std::string allow = response.head.header("Allow").value_or("");
    CHECK(allow.find("GET") != std::string::npos);
    CHECK(allow.find("PUT") != std::string::npos);
  }
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a request head not complete within --head-timeout gets 408", "[protocol]") {
  RelayProcess relay({"--head-timeout", "1"});
  const auto deadline = Clock::now() + 15s;
  Socket socket = connect_loopback(relay.port());
  send_all(socket, "GET /live.ts HTTP/1.1\r\nHost: 127.0.0.1\r\n", deadline);  // and nothing more
  const ResponseHead head = read_response_head(socket, deadline);
  CHECK(head.status == 408);
  read_to_eof(socket, deadline);  // then the relay closes
  // A client that never sends a byte is timed out too.
  Socket silent = connect_loopback(relay.port());
  CHECK(read_response_head(silent, deadline).status == 408);
  CHECK(fetch_stats(relay.port()).at("refused").at("head_timeout") == 2);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a request head larger than --max-head-bytes gets 431", "[protocol]") {
  RelayProcess relay({"--max-head-bytes", "1024"});
  const std::string big = "GET /live.ts HTTP/1.1\r\nX-Padding: " + std::string(2000, 'a') + "\r\n\r\n";
  CHECK(status_of(relay.port(), big) == 431);
  // Many small headers add up the same way; a head just under the limit is fine.
  std::string many = "GET /live.ts HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": value\r\n";
  CHECK(status_of(relay.port(), many + "\r\n") == 431);
  CHECK(status_of(relay.port(), "GET /live.ts HTTP/1.1\r\nX-Padding: " + std::string(900, 'a') + "\r\n\r\n") == 404);
  CHECK(fetch_stats(relay.port()).at("refused").at("head_too_large") == 2);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("an HTTP/2.0 request gets 505", "[protocol]") {
  RelayProcess relay;
  CHECK(status_of(relay.port(), "GET /stats HTTP/2.0\r\n\r\n") == 505);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a PUT with Expect: 100-continue gets 100 Continue, without it 200 OK", "[protocol]") {
  RelayProcess relay({"--grace", "0"});
  SourceOptions options;
  SECTION("with Expect") {
    options.expect_continue = true;
    const SourceConnection source = connect_source(relay.port(), options);
    CHECK(source.response.text == "HTTP/1.1 100 Continue\r\n\r\n");
  }
  SECTION("without Expect") {
    options.expect_continue = false;
    const SourceConnection source = connect_source(relay.port(), options);
    CHECK(source.response.text.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  }
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("the legacy SOURCE verb broadcasts like PUT", "[protocol]") {
  RelayProcess relay;
  SourceOptions options;
  options.method = "SOURCE";
  options.expect_continue = false;
  options.content_type = "video/mp2t";
  SourceConnection source = connect_source(relay.port(), options);
  CHECK(source.response.status == 200);

  Viewer viewer(relay.port(), "/live.ts");
  constexpr std::uint64_t kTotal = 1000 * kPacketBytes;
  PacedSource sender(std::move(source.socket), 0, kTotal, 0);
  sender.join();
  REQUIRE(sender.error().empty());
  CHECK(wait_until([&] { return viewer.received() == kTotal; }, 10s));
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  CHECK(viewer.checker().first_sequence() == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("body bytes sent in the same packet as the source's head reach viewers", "[protocol]") {
  RelayProcess relay;
  constexpr std::size_t kEarly = 20 * kPacketBytes;  // fits in the head buffer's first read
  const auto early = pattern(0, kEarly);
  SECTION("with Expect: 100-continue") {
    SourceConnection source = connect_source(relay.port(), {}, early);
    CHECK(source.response.status == 100);
  }
  SECTION("without Expect") {
    SourceOptions options;
    options.expect_continue = false;
    SourceConnection source = connect_source(relay.port(), options, early);
    CHECK(source.response.status == 200);
  }
  // The source is gone but within --grace (default 10 s): the mount and its ring remain, and a
  // new viewer's burst starts at the very first byte.
  CHECK(wait_until([&] {
    const auto mount = mount_stats(relay.port(), "/live.ts");
    return mount.is_object() && mount.at("bytes_in") == kEarly;
  }, 10s));
  Viewer viewer(relay.port(), "/live.ts");
  CHECK(wait_until([&] { return viewer.received() >= kEarly; }, 10s));
  viewer.hang_up();
  CHECK(viewer.received() == kEarly);
  CHECK(viewer.checker().error() == "");
  CHECK(viewer.checker().first_sequence() == 0);
  CHECK(viewer.checker().packets() == 20);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("body bytes pipelined behind the head are followed seamlessly by the rest", "[protocol]") {
  RelayProcess relay;
  constexpr std::size_t kEarly = 10 * kPacketBytes + 77;  // ends mid-packet on purpose
  constexpr std::uint64_t kTotal = 2000 * kPacketBytes;
  SourceConnection source = connect_source(relay.port(), {}, pattern(0, kEarly));
  Viewer viewer(relay.port(), "/live.ts");
  PacedSource sender(std::move(source.socket), kEarly, kTotal - kEarly, 0, 1000);
  sender.join();
  REQUIRE(sender.error().empty());
  CHECK(wait_until([&] { return viewer.received() == kTotal; }, 10s));
  viewer.hang_up();
  CHECK(viewer.checker().error() == "");
  CHECK(viewer.checker().first_sequence() == 0);
  CHECK(viewer.checker().packets() == 2000);
  REQUIRE(relay.stop() == 0);
}
