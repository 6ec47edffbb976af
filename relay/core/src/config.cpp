// Listen addresses as --listen, --admin-listen and the config file spell them, and what a
// mount's settings say about its stream.
#include "ringcast/core/config.h"

#include <arpa/inet.h>

#include <charconv>
#include <string_view>

namespace ringcast::relay {

namespace {
// The relay binds with uv_ip4_addr or uv_ip6_addr: only address literals, no host names.
bool is_ipv4_literal(const std::string& host) {
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1;
}
bool is_ipv6_literal(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}
}  // namespace

bool parse_listen_address(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string_view digits = std::string_view(text).substr(colon + 1);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() ||
      value > 65535) {
    return false;
  }

  std::string parsed_host = text.substr(0, colon);
  if (parsed_host.empty()) {
    parsed_host = "0.0.0.0";
  } else if (parsed_host.front() == '[') {
    // IPv6 goes in brackets, so that the last colon is the port's.
    if (parsed_host.size() < 2 || parsed_host.back() != ']') return false;
    parsed_host = parsed_host.substr(1, parsed_host.size() - 2);
    if (!is_ipv6_literal(parsed_host)) return false;
  } else if (!is_ipv4_literal(parsed_host)) {
    return false;
  }
  host = std::move(parsed_host);
  port = static_cast<std::uint16_t>(value);
  return true;
}

std::vector<std::pair<std::string, std::string>> MountSettings::ice_overrides() const {
  std::vector<std::pair<std::string, std::string>> overrides;
  const auto add = [&](const char* name, const std::optional<std::string>& value) {
    if (value) overrides.emplace_back(name, *value);
  };
  add("ice-name", stream_name);
  add("ice-description", stream_description);
  add("ice-url", stream_url);
  add("ice-genre", stream_genre);
  if (stream_bitrate) overrides.emplace_back("ice-bitrate", std::to_string(*stream_bitrate));
  if (stream_public) overrides.emplace_back("ice-public", *stream_public ? "1" : "0");
  return overrides;
}

}  // namespace ringcast::relay
