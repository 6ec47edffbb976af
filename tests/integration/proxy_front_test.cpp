// Behind a proxy (issue 26): the client's own address reaches the logs, the access log and
// /admin/listclients when a trusted proxy sends a PROXY protocol header (v1, v2) or
// X-Forwarded-For / Forwarded; a PROXY listener closes connections from anyone else and any
// that do not start with a valid header; a client's own X-Forwarded-For is never believed. Each
// client and proxy is its own loopback address (127.0.0.0/8).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr std::uint32_t kProxy = 0x7f000002;   // 127.0.0.2: the trusted proxy
constexpr std::uint32_t kClient = 0x7f000003;  // 127.0.0.3: a client reaching the relay itself
constexpr std::string_view kAdmin = "adminpw";

// The addresses /admin/listclients lists for `mount`, sorted.
std::vector<std::string> listed_addresses(std::uint16_t port, const std::string& mount) {
  const Response list = http_exchange(port, "GET /admin/listclients?mount=" + mount + " HTTP/1.0\r\nAuthorization: " +
                                                basic_auth("admin", kAdmin) + "\r\n\r\n");
  REQUIRE(list.head.status == 200);
  auto addresses = xpath_texts(list.body, "/icestats/source/listener/IP");
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

// A listener that sends `prefix` (a PROXY header, or nothing) and then its request with
// `headers`, from `from`; returned once the relay answered 200.
Socket listen_from(std::uint16_t port, std::uint32_t from, const std::string& prefix, const std::string& headers = {}) {
  Socket socket = connect_loopback_from(port, from);
  send_all(socket, prefix + "GET /radio.mp3 HTTP/1.0\r\n" + headers + "\r\n", Clock::now() + 10s);
  REQUIRE(read_response_head(socket, Clock::now() + 10s).status == 200);
  return socket;
}

std::string v2_ipv4(std::array<std::uint8_t, 4> client, std::uint16_t client_port) {
  std::string header("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x11\x00\x0C", 16);
  for (std::uint8_t byte : client) header += static_cast<char>(byte);
  header += std::string("\x7f\x00\x00\x01", 4);
  header += static_cast<char>(client_port >> 8);
  header += static_cast<char>(client_port & 0xFF);
  header += std::string("\x1f\x40", 2);
  return header;
}

// true when the relay closed the connection without answering a byte.
bool closed_silently(Socket& socket) {
  std::uint8_t byte = 0;
  const auto got = read_some(socket, &byte, 1, Clock::now() + 10s);
  return got && *got == 0;
}

}  // namespace

TEST_CASE("a PROXY listener takes the client's address from the trusted proxy's v1 or v2 header", "[proxy_front]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-proxy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto access_log = dir / "access.log";
  // The test's own requests (stats, sources) come from 127.0.0.1 through the "proxy" too.
  RelayProcess relay({"--proxy-protocol", "--trusted-proxy", "127.0.0.2", "--trusted-proxy", "127.0.0.1",
                      "--admin-password", std::string(kAdmin), "--admin-listen", "127.0.0.1:0",
                      "--access-log", access_log.string()});
  const std::uint16_t admin = relay.admin_port();  // no PROXY header there
  SourceOptions radio;
  radio.mount = "/radio.mp3";
  radio.content_type = "audio/mpeg";
  radio.expect_continue = false;
  Socket source = connect_loopback(relay.port());
  send_all(source, "PROXY TCP4 192.0.2.50 127.0.0.1 40000 8000\r\n" + source_request_head(radio), Clock::now() + 10s);
  REQUIRE(read_response_head(source, Clock::now() + 10s).status == 200);

  {
    Socket v1 = listen_from(relay.port(), kProxy, "PROXY TCP4 203.0.113.9 127.0.0.1 51000 8000\r\n",
                            "User-Agent: v1\r\n");
    Socket v2 = listen_from(relay.port(), kProxy, v2_ipv4({198, 51, 100, 4}, 52000), "User-Agent: v2\r\n");
    Socket v6 = listen_from(relay.port(), kProxy, "PROXY TCP6 2001:db8::9 ::1 53000 8000\r\n");
    Socket local = listen_from(relay.port(), kProxy, "PROXY UNKNOWN\r\n");  // the proxy's own
    REQUIRE(wait_until([&] { return listed_addresses(admin, "/radio.mp3").size() == 4; }, 10s));
    CHECK(listed_addresses(admin, "/radio.mp3") ==
          std::vector<std::string>{"127.0.0.2", "198.51.100.4", "2001:db8::9", "203.0.113.9"});
  }
  REQUIRE(wait_until([&] { return listed_addresses(admin, "/radio.mp3").empty(); }, 10s));
  REQUIRE(relay.stop() == 0);
  std::stringstream log;
  log << std::ifstream(access_log).rdbuf();
  INFO(log.str());
  CHECK(log.str().find("203.0.113.9 - - [") != std::string::npos);
  CHECK(log.str().find("198.51.100.4 - - [") != std::string::npos);
  CHECK(log.str().find("192.0.2.50 - source [") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a PROXY listener closes connections from untrusted addresses and without a valid header", "[proxy_front]") {
  RelayProcess relay({"--proxy-protocol", "--trusted-proxy", "127.0.0.2"});
  // From an address that is not a proxy: closed before a byte is read, whatever it sends.
  Socket direct = connect_loopback_from(relay.port(), kClient);
  send_all(direct, "PROXY TCP4 10.9.9.9 127.0.0.1 1 2\r\nGET /stats HTTP/1.0\r\n\r\n", Clock::now() + 10s);
  CHECK(closed_silently(direct));
  // From the proxy, but HTTP straight away, or a broken header: closed, no HTTP answer.
  for (const std::string& bad : {std::string("GET /stats HTTP/1.0\r\n\r\n"), std::string("PROXY TCP4 nonsense\r\n\r\n"),
                                 std::string("PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n")}) {
    INFO(bad);
    Socket socket = connect_loopback_from(relay.port(), kProxy);
    send_all(socket, bad, Clock::now() + 10s);
    CHECK(closed_silently(socket));
  }
  // And a good header in pieces, then the request.
  Socket pieces = connect_loopback_from(relay.port(), kProxy);
  send_all(pieces, "PROXY TCP4 203.0", Clock::now() + 10s);
  std::this_thread::sleep_for(20ms);
  send_all(pieces, ".113.9 127.0.0.1 1 2\r", Clock::now() + 10s);
  std::this_thread::sleep_for(20ms);
  send_all(pieces, "\nGET /stats HTTP/1.0\r\n\r\n", Clock::now() + 10s);
  const ResponseHead answered = read_response_head(pieces, Clock::now() + 10s);
  CHECK(answered.status == 200);
  const auto stats = nlohmann::json::parse(std::string(answered.leftover.begin(), answered.leftover.end()) +
                                           read_to_eof(pieces, Clock::now() + 10s));
  CHECK(stats.at("refused").at("untrusted_proxy") == 1);
  CHECK(stats.at("refused").at("bad_request") == 3);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("X-Forwarded-For and Forwarded are believed from trusted proxies only", "[proxy_front]") {
  RelayProcess relay({"--trusted-proxy", "127.0.0.2", "--admin-password", std::string(kAdmin)});
  SourceOptions radio;
  radio.mount = "/radio.mp3";
  radio.content_type = "audio/mpeg";
  SourceConnection source = connect_source(relay.port(), radio);
  {
    // The proxy appends the address it saw to what the client sent: the right-most untrusted wins.
    Socket forwarded = listen_from(relay.port(), kProxy, "", "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n");
    Socket rfc7239 = listen_from(relay.port(), kProxy, "", "Forwarded: for=\"[2001:db8::7]:4711\";proto=https\r\n");
    // A client that reaches the relay itself and forges the header is listed as itself.
    Socket forged = listen_from(relay.port(), kClient, "", "X-Forwarded-For: 198.51.100.1\r\n");
    REQUIRE(wait_until([&] { return listed_addresses(relay.port(), "/radio.mp3").size() == 3; }, 10s));
    CHECK(listed_addresses(relay.port(), "/radio.mp3") ==
          std::vector<std::string>{"127.0.0.3", "2001:db8::7", "203.0.113.9"});
  }
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a PROXY listener without a trusted proxy is refused at start", "[proxy_front]") {
  CHECK_THROWS_WITH(RelayProcess({"--proxy-protocol"}), Catch::Contains("proxy_protocol needs trusted_proxies"));
}
