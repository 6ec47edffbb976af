// Forwarded client addresses and trusted proxies (forwarded.h).
#include "ringcast/http/forwarded.h"

#include <arpa/inet.h>
#include <strings.h>

#include <cstring>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {
namespace {

// An address as 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d).
std::optional<std::array<std::uint8_t, 16>> to_bytes(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<std::uint8_t, 16> bytes{};
  if (text.find(':') == std::string_view::npos) {
    if (::inet_pton(AF_INET, buffer, bytes.data() + 12) != 1) return std::nullopt;
    bytes[10] = 0xFF;
    bytes[11] = 0xFF;
    return bytes;
  }
  if (::inet_pton(AF_INET6, buffer, bytes.data()) != 1) return std::nullopt;
  return bytes;
}

bool in_network(const std::array<std::uint8_t, 16>& address, const std::array<std::uint8_t, 16>& network,
                unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(address.data(), network.data(), whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address[whole] & mask) == (network[whole] & mask);
}

// "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443" -> the address.
std::string_view strip_port(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return {};
    return text.substr(1, close - 1);
  }
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    return text.substr(0, colon);  // one colon: IPv4 with a port
  }
  return text;
}

// Calls `each` with every `separator`-separated item of `text`, trimmed.
template <typename Each>
void for_each_item(std::string_view text, char separator, Each each) {
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t end = text.find(separator, at);
    each(trim_blanks(text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at)));
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
}

}  // namespace

std::optional<AddressSet> AddressSet::parse(const std::vector<std::string>& entries, std::string* error) {
  AddressSet set;
  for (const std::string& entry : entries) {
    std::string_view text = trim_blanks(entry);
    std::string_view address = text;
    std::optional<unsigned> prefix;
    const std::size_t slash = text.find('/');
    if (slash != std::string_view::npos) {
      address = text.substr(0, slash);
      const std::string_view digits = text.substr(slash + 1);
      unsigned value = 0;
      bool ok = !digits.empty() && digits.size() <= 3;
      for (char c : digits) {
        if (c < '0' || c > '9') ok = false;
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
      if (!ok) {
        if (error) *error = "bad prefix length in '" + entry + "'";
        return std::nullopt;
      }
      prefix = value;
    }
    const auto bytes = to_bytes(address);
    if (!bytes) {
      if (error) *error = "'" + entry + "' is not an address or network";
      return std::nullopt;
    }
    const bool v4 = address.find(':') == std::string_view::npos;
    const unsigned limit = v4 ? 32 : 128;
    const unsigned length = prefix.value_or(limit);
    if (length > limit) {
      if (error) *error = "prefix length too long in '" + entry + "'";
      return std::nullopt;
    }
    set.networks_.push_back(Network{*bytes, v4 ? length + 96 : length});
  }
  return set;
}

bool AddressSet::contains(std::string_view address) const {
  const auto bytes = to_bytes(address);
  if (!bytes) return false;
  for (const Network& network : networks_) {
    if (in_network(*bytes, network.bytes, network.prefix)) return true;
  }
  return false;
}

std::optional<std::string> forwarded_client(std::string_view peer,
                                            const std::vector<std::string_view>& xff_values,
                                            const AddressSet& trusted) {
  if (!trusted.contains(peer)) return std::nullopt;
  std::vector<std::string_view> hops;
  for (std::string_view value : xff_values) {
    for_each_item(value, ',', [&](std::string_view item) {
      if (!item.empty()) hops.push_back(item);
    });
  }
  if (hops.empty()) return std::nullopt;
  for (std::size_t i = hops.size(); i-- > 0;) {
    const std::string_view address = strip_port(hops[i]);
    if (!to_bytes(address)) return std::nullopt;  // a malformed hop: believe nothing past it
    if (!trusted.contains(address) || i == 0) return std::string(address);
  }
  return std::nullopt;
}

std::vector<std::string> forwarded_for_values(const std::vector<std::string_view>& forwarded_values) {
  std::vector<std::string> hops;
  for (std::string_view value : forwarded_values) {
    for_each_item(value, ',', [&](std::string_view element) {
      if (element.empty()) return;
      std::string hop = "unknown";
      for_each_item(element, ';', [&](std::string_view pair) {
        const std::size_t equals = pair.find('=');
        if (equals != 3 || strncasecmp(pair.data(), "for", 3) != 0) return;
        std::string_view node = trim_blanks(pair.substr(equals + 1));
        if (node.size() >= 2 && node.front() == '"' && node.back() == '"') node = node.substr(1, node.size() - 2);
        hop = std::string(node);
      });
      hops.push_back(std::move(hop));
    });
  }
  return hops;
}

}  // namespace ringcast::relay
