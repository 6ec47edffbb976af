// The PROXY protocol (haproxy's proxy-protocol.txt, versions 1 and 2) as a TLS terminator or a
// TCP load balancer (haproxy "send-proxy"/"send-proxy-v2", nginx stream "proxy_protocol on")
// sends it before the client's own bytes, so the relay learns the client's address. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::relay {

struct ProxyHeader {
  enum class Command {
    proxy,  // a proxied connection: the addresses below are the client's and the proxy's
    local,  // the proxy's own connection (health check), or an unknown family: keep the peer
  };
  Command command = Command::local;
  std::string source_address;  // the client, e.g. "10.0.0.7" or "2001:db8::7"
  std::uint16_t source_port = 0;
  std::string destination_address;
  std::uint16_t destination_port = 0;
  int version = 0;  // 1 or 2
};

enum class ProxyParseStatus { incomplete, complete, malformed };

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::incomplete;
  std::size_t consumed = 0;  // when complete: the header's bytes; the client's follow
  ProxyHeader header;
  std::string_view error;    // when malformed: why (static text)
};

// The longest header accepted: v2's 16 bytes plus up to 1 KiB of addresses and TLVs (v1 lines
// are at most 107 bytes).
inline constexpr std::size_t kMaxProxyHeaderBytes = 16 + 1024;

// `received` is everything received so far (a growing prefix). Malformed as soon as the bytes
// cannot begin a valid header, so a client that speaks HTTP to a PROXY listener is refused on
// its first bytes.
ProxyParseResult parse_proxy_header(std::string_view received);

}  // namespace ringcast::relay
