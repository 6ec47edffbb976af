// Which client a request is for, when it came through trusted proxies that add
// "X-Forwarded-For: client, proxy1, …" or "Forwarded: for=client, for=proxy1" (RFC 7239), and
// which peers are trusted to say so. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::relay {

// A set of addresses and networks ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"). IPv4-mapped
// IPv6 addresses ("::ffff:10.0.0.1") match the IPv4 entries.
class AddressSet {
 public:
  AddressSet() = default;
  // nullopt when an entry is not an address or network; *error (if given) then says which.
  static std::optional<AddressSet> parse(const std::vector<std::string>& entries, std::string* error);

  bool contains(std::string_view address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    unsigned prefix = 0;                   // of 128
  };
  std::vector<Network> networks_;
};

// The client address, when `peer` (an address, no port) is a trusted proxy: the X-Forwarded-For
// values (every such header, in order, each a comma list) are read right to left, skipping
// trusted proxies; the first untrusted address is the client (when all are trusted: the
// leftmost). Ports and brackets are removed ("[2001:db8::1]:443" -> "2001:db8::1"). nullopt
// when the peer is not trusted, there is no usable value, or the address found is malformed.
std::optional<std::string> forwarded_client(std::string_view peer,
                                            const std::vector<std::string_view>& xff_values,
                                            const AddressSet& trusted);

// The `for=` values of Forwarded headers (RFC 7239), in order, as X-Forwarded-For would list
// them: `for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"` -> "192.0.2.60",
// "[2001:db8::17]:4711". A hop without `for=` is "unknown" (which is no address).
std::vector<std::string> forwarded_for_values(const std::vector<std::string_view>& forwarded_values);

}  // namespace ringcast::relay
