// The PROXY protocol parser (haproxy's proxy-protocol.txt): v1 lines, v2 headers of every family
// and command, TLVs skipped, malformed and truncated headers, and every split point of a header
// that arrives in pieces.
#include "ringcast/http/proxy_protocol.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace ringcast::relay;

namespace {

const std::string kSignature("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12);

// A v2 header: version/command byte, family/transport byte, then `body` (addresses and TLVs).
std::string v2(unsigned char version_command, unsigned char family_transport, const std::string& body) {
  std::string header = kSignature;
  header += static_cast<char>(version_command);
  header += static_cast<char>(family_transport);
  header += static_cast<char>(body.size() >> 8);
  header += static_cast<char>(body.size() & 0xFF);
  return header + body;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

const std::string kIpv4Body = bytes({192, 0, 2, 7, 10, 0, 0, 1, 0xC3, 0x50, 0x1F, 0x40});  // :50000 -> :8000

}  // namespace

TEST_CASE("PROXY v1: TCP4, TCP6 and UNKNOWN lines", "[proxy_protocol]") {
  const std::string request = "GET /live.ts HTTP/1.1\r\n\r\n";
  const auto tcp4 = parse_proxy_header("PROXY TCP4 192.0.2.7 10.0.0.1 50000 8000\r\n" + request);
  REQUIRE(tcp4.status == ProxyParseStatus::complete);
  CHECK(tcp4.consumed == 42);
  CHECK(tcp4.header.version == 1);
  CHECK(tcp4.header.command == ProxyHeader::Command::proxy);
  CHECK(tcp4.header.source_address == "192.0.2.7");
  CHECK(tcp4.header.source_port == 50000);
  CHECK(tcp4.header.destination_address == "10.0.0.1");
  CHECK(tcp4.header.destination_port == 8000);

  const auto tcp6 = parse_proxy_header("PROXY TCP6 2001:DB8::7 2001:db8::1 443 8000\r\n");
  REQUIRE(tcp6.status == ProxyParseStatus::complete);
  CHECK(tcp6.header.source_address == "2001:db8::7");  // normalised
  CHECK(tcp6.header.source_port == 443);

  // UNKNOWN: the proxy could not tell (or its own health check): keep the connection's address.
  const auto unknown = parse_proxy_header("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
  REQUIRE(unknown.status == ProxyParseStatus::complete);
  CHECK(unknown.header.command == ProxyHeader::Command::local);
  CHECK(parse_proxy_header("PROXY UNKNOWN\r\n").status == ProxyParseStatus::complete);
}

TEST_CASE("PROXY v1: malformed lines are refused as soon as they cannot be one", "[proxy_protocol]") {
  for (const char* line : {"GET / HTTP/1.0\r\n\r\n", "PROXY TCP4 192.0.2.7 10.0.0.1 50000\r\n",
                           "PROXY TCP4 192.0.2.7 10.0.0.1 50000 8000 9\r\n", "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
                           "PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", "PROXY TCP4 192.0.2.300 10.0.0.1 1 2\r\n",
                           "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", "PROXY TCP4 192.0.2.7 10.0.0.1 080 2\r\n",
                           "PROXY TCP4 192.0.2.7 10.0.0.1 -1 2\r\n", "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n",
                           "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n", "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\rX",
                           "PROXY UNKNOWNX\r\n", "proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n",
                           "PROXY UNKNOWN x\ny\r\n"}) {
    INFO(line);
    const auto result = parse_proxy_header(line);
    CHECK(result.status == ProxyParseStatus::malformed);
    CHECK_FALSE(result.error.empty());
  }
  // A line that never ends: refused at the spec's 107 bytes, not buffered on.
  CHECK(parse_proxy_header("PROXY TCP4 " + std::string(200, '1')).status == ProxyParseStatus::malformed);
  CHECK(parse_proxy_header("PROXY TCP4 " + std::string(90, '1')).status == ProxyParseStatus::incomplete);
}

TEST_CASE("PROXY v2: IPv4, IPv6, UNIX and LOCAL, with TLVs skipped", "[proxy_protocol]") {
  const std::string after = "GET /live.ts HTTP/1.1\r\n\r\n";
  const auto ipv4 = parse_proxy_header(v2(0x21, 0x11, kIpv4Body) + after);
  REQUIRE(ipv4.status == ProxyParseStatus::complete);
  CHECK(ipv4.consumed == 16 + 12);
  CHECK(ipv4.header.version == 2);
  CHECK(ipv4.header.command == ProxyHeader::Command::proxy);
  CHECK(ipv4.header.source_address == "192.0.2.7");
  CHECK(ipv4.header.source_port == 50000);
  CHECK(ipv4.header.destination_address == "10.0.0.1");
  CHECK(ipv4.header.destination_port == 8000);

  std::string ipv6_body(36, '\0');
  ipv6_body[0] = 0x20;
  ipv6_body[1] = 0x01;
  ipv6_body[2] = 0x0d;
  ipv6_body[3] = static_cast<char>(0xb8);
  ipv6_body[15] = 7;
  ipv6_body[31] = 1;
  ipv6_body[32] = 0x01;
  ipv6_body[33] = static_cast<char>(0xBB);  // 443
  ipv6_body[35] = 80;
  const auto ipv6 = parse_proxy_header(v2(0x21, 0x21, ipv6_body));
  REQUIRE(ipv6.status == ProxyParseStatus::complete);
  CHECK(ipv6.header.source_address == "2001:db8::7");
  CHECK(ipv6.header.destination_address == "::1");
  CHECK(ipv6.header.source_port == 443);
  CHECK(ipv6.header.destination_port == 80);

  // TLVs after the addresses (haproxy sends ALPN, authority, SSL, unique ID): skipped whole.
  const std::string tlvs = bytes({0x01, 0x00, 0x02, 'h', '2', 0x02, 0x00, 0x03, 'a', '.', 'b', 0x05, 0x00, 0x00});
  const auto with_tlvs = parse_proxy_header(v2(0x21, 0x11, kIpv4Body + tlvs) + after);
  REQUIRE(with_tlvs.status == ProxyParseStatus::complete);
  CHECK(with_tlvs.consumed == 16 + kIpv4Body.size() + tlvs.size());
  CHECK(with_tlvs.header.source_address == "192.0.2.7");

  // LOCAL (the proxy's own health check), UNSPEC, UDP and UNIX: the connection's address stays.
  for (const auto& [command_byte, family_byte, body] :
       std::vector<std::tuple<int, int, std::string>>{{0x20, 0x00, ""},
                                                      {0x20, 0x11, kIpv4Body},
                                                      {0x21, 0x00, ""},
                                                      {0x21, 0x12, kIpv4Body},
                                                      {0x21, 0x31, std::string(216, 'x')}}) {
    INFO("command " << command_byte << " family " << family_byte);
    const auto kept = parse_proxy_header(v2(static_cast<unsigned char>(command_byte),
                                            static_cast<unsigned char>(family_byte), body));
    REQUIRE(kept.status == ProxyParseStatus::complete);
    CHECK(kept.header.command == ProxyHeader::Command::local);
    CHECK(kept.consumed == 16 + body.size());
  }
}

TEST_CASE("PROXY v2: malformed headers are refused", "[proxy_protocol]") {
  CHECK(parse_proxy_header(v2(0x11, 0x11, kIpv4Body)).status == ProxyParseStatus::malformed);  // version 1
  CHECK(parse_proxy_header(v2(0x22, 0x11, kIpv4Body)).status == ProxyParseStatus::malformed);  // command 2
  CHECK(parse_proxy_header(v2(0x21, 0x41, kIpv4Body)).status == ProxyParseStatus::malformed);  // family 4
  CHECK(parse_proxy_header(v2(0x21, 0x13, kIpv4Body)).status == ProxyParseStatus::malformed);  // transport 3
  // An address block shorter than the family needs, whatever follows.
  CHECK(parse_proxy_header(v2(0x21, 0x11, kIpv4Body.substr(0, 8))).status == ProxyParseStatus::malformed);
  CHECK(parse_proxy_header(v2(0x21, 0x21, kIpv4Body)).status == ProxyParseStatus::malformed);
  // A length past the bound is refused before its bytes arrive.
  std::string huge = v2(0x21, 0x11, kIpv4Body);
  huge[14] = 0x10;
  CHECK(parse_proxy_header(huge.substr(0, 16)).status == ProxyParseStatus::malformed);
  // A signature that goes wrong halfway.
  CHECK(parse_proxy_header(kSignature.substr(0, 5) + "X").status == ProxyParseStatus::malformed);
}

TEST_CASE("a PROXY header split at every byte is incomplete until its last byte", "[proxy_protocol]") {
  const std::string tlvs = bytes({0x04, 0x00, 0x01, 'x'});
  for (const std::string& header : {std::string("PROXY TCP4 192.0.2.7 10.0.0.1 50000 8000\r\n"),
                                    v2(0x21, 0x11, kIpv4Body + tlvs)}) {
    INFO("version " << (header[0] == 'P' ? 1 : 2));
    for (std::size_t cut = 0; cut < header.size(); ++cut) {
      INFO("first " << cut << " bytes");
      CHECK(parse_proxy_header(header.substr(0, cut)).status == ProxyParseStatus::incomplete);
    }
    const auto whole = parse_proxy_header(header + "GET");
    REQUIRE(whole.status == ProxyParseStatus::complete);
    CHECK(whole.consumed == header.size());
    CHECK(whole.header.source_address == "192.0.2.7");
  }
}
