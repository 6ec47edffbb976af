// The PROXY protocol, versions 1 and 2 (proxy_protocol.h).
#include "ringcast/http/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace ringcast::relay {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV1MaxLine = 107;  // the spec's bound, CRLF included
constexpr std::array<unsigned char, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                        0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

ProxyParseResult malformed(std::string_view why) {
  ProxyParseResult result;
  result.status = ProxyParseStatus::malformed;
  result.error = why;
  return result;
}

// True when `received` is a prefix of `whole`, or `whole` a prefix of it.
bool agrees(std::string_view received, std::string_view whole) {
  const std::size_t n = std::min(received.size(), whole.size());
  return received.substr(0, n) == whole.substr(0, n);
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

// A textual address of the family, normalised through inet_pton/inet_ntop.
bool parse_address(std::string_view text, int family, std::string& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<unsigned char, 16> binary{};
  if (::inet_pton(family, buffer, binary.data()) != 1) return false;
  char printed[INET6_ADDRSTRLEN];
  if (::inet_ntop(family, binary.data(), printed, sizeof printed) == nullptr) return false;
  out = printed;
  return true;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at <= line.size()) {
    const std::size_t space = line.find(' ', at);
    words.push_back(line.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at));
    if (space == std::string_view::npos) break;
    at = space + 1;
  }
  return words;
}

ProxyParseResult parse_v1(std::string_view received) {
  if (!agrees(received, kV1Prefix)) return malformed("not a PROXY protocol header");
  // The line ends at its first CR or LF, and only CRLF ends it well.
  const std::size_t cr = received.find_first_of("\r\n");
  if (cr != std::string_view::npos && received[cr] == '\n') return malformed("PROXY v1 line without CR");
  if (cr == std::string_view::npos) {
    if (received.size() >= kV1MaxLine) return malformed("PROXY v1 line too long");
    return {};
  }
  if (cr + 2 > kV1MaxLine) return malformed("PROXY v1 line too long");
  if (received.size() < cr + 2) return {};
  if (received[cr + 1] != '\n') return malformed("PROXY v1 line without LF");
  const std::string_view line = received.substr(0, cr);
  ProxyParseResult result;
  result.status = ProxyParseStatus::complete;
  result.consumed = cr + 2;
  result.header.version = 1;
  if (line.starts_with("PROXY UNKNOWN")) {
    // Whatever follows is ignored by the spec: keep the peer's own address.
    if (line.size() > 13 && line[13] != ' ') return malformed("bad PROXY v1 protocol");
    result.header.command = ProxyHeader::Command::local;
    return result;
  }
  const auto words = split_spaces(line);
  if (words.size() != 6) return malformed("bad PROXY v1 line");
  int family = 0;
  if (words[1] == "TCP4") {
    family = AF_INET;
  } else if (words[1] == "TCP6") {
    family = AF_INET6;
  } else {
    return malformed("bad PROXY v1 protocol");
  }
  ProxyHeader& header = result.header;
  if (!parse_address(words[2], family, header.source_address) ||
      !parse_address(words[3], family, header.destination_address)) {
    return malformed("bad PROXY v1 address");
  }
  if (!parse_port(words[4], header.source_port) || !parse_port(words[5], header.destination_port)) {
    return malformed("bad PROXY v1 port");
  }
  header.command = ProxyHeader::Command::proxy;
  return result;
}

std::uint16_t big_endian16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::string print_address(int family, const unsigned char* bytes) {
  char printed[INET6_ADDRSTRLEN];
  if (::inet_ntop(family, bytes, printed, sizeof printed) == nullptr) return {};
  return printed;
}

ProxyParseResult parse_v2(std::string_view received) {
  const auto* p = reinterpret_cast<const unsigned char*>(received.data());
  if (received.size() >= 13) {
    if ((p[12] & 0xF0) != 0x20) return malformed("bad PROXY v2 version");
    if ((p[12] & 0x0F) > 1) return malformed("bad PROXY v2 command");
  }
  if (received.size() < 16) return {};
  const std::size_t length = big_endian16(p + 14);
  if (16 + length > kMaxProxyHeaderBytes) return malformed("PROXY v2 header too long");
  const unsigned family = p[13] >> 4;
  const unsigned transport = p[13] & 0x0F;
  if (family > 3 || transport > 2) return malformed("bad PROXY v2 family");
  // The address block must fit in the stated length; check before the bytes arrive.
  const std::size_t need = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
  const bool is_proxy = (p[12] & 0x0F) == 1;
  if (is_proxy && length < need) return malformed("PROXY v2 address block too short");
  if (received.size() < 16 + length) return {};
  ProxyParseResult result;
  result.status = ProxyParseStatus::complete;
  result.consumed = 16 + length;
  ProxyHeader& header = result.header;
  header.version = 2;
  header.command = ProxyHeader::Command::local;
  // LOCAL, UNSPEC, UDP and unix sockets: keep the peer's address. TLVs after the addresses are
  // skipped (they fit in `length`, which was checked).
  if (!is_proxy || transport != 1 || (family != 1 && family != 2)) return result;
  const unsigned char* a = p + 16;
  if (family == 1) {
    header.source_address = print_address(AF_INET, a);
    header.destination_address = print_address(AF_INET, a + 4);
    header.source_port = big_endian16(a + 8);
    header.destination_port = big_endian16(a + 10);
  } else {
    header.source_address = print_address(AF_INET6, a);
    header.destination_address = print_address(AF_INET6, a + 16);
    header.source_port = big_endian16(a + 32);
    header.destination_port = big_endian16(a + 34);
  }
  header.command = ProxyHeader::Command::proxy;
  return result;
}

}  // namespace

ProxyParseResult parse_proxy_header(std::string_view received) {
  if (received.empty()) return {};
  if (received[0] == 'P') return parse_v1(received);
  const std::string_view signature(reinterpret_cast<const char*>(kV2Signature.data()), kV2Signature.size());
  if (!agrees(received, signature)) return malformed("not a PROXY protocol header");
  if (received.size() < signature.size()) return {};
  return parse_v2(received);
}

}  // namespace ringcast::relay
