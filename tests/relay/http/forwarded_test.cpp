// Trusted proxies and the client address they forward: networks, the right-most untrusted hop
// of X-Forwarded-For, and Forwarded's for= values.
#include "ringcast/http/forwarded.h"

#include <catch2/catch.hpp>

using namespace ringcast::relay;

namespace {

AddressSet set_of(const std::vector<std::string>& entries) {
  std::string error;
  auto set = AddressSet::parse(entries, &error);
  INFO(error);
  REQUIRE(set);
  return *set;
}

}  // namespace

TEST_CASE("trusted networks: addresses, IPv4 and IPv6 prefixes, IPv4-mapped peers", "[forwarded]") {
  const AddressSet trusted = set_of({"127.0.0.1", "10.0.0.0/8", "fd00::/8", "192.0.2.128/25"});
  CHECK(trusted.contains("127.0.0.1"));
  CHECK_FALSE(trusted.contains("127.0.0.2"));
  CHECK(trusted.contains("10.255.0.9"));
  CHECK(trusted.contains("::ffff:10.1.2.3"));  // a dual-stack socket's IPv4 peer
  CHECK(trusted.contains("fd12::1"));
  CHECK_FALSE(trusted.contains("fe80::1"));
  CHECK(trusted.contains("192.0.2.200"));
  CHECK_FALSE(trusted.contains("192.0.2.100"));
  CHECK_FALSE(trusted.contains("not an address"));
  CHECK(set_of({"0.0.0.0/0"}).contains("203.0.113.9"));

  std::string error;
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/x", "example.org", "10.0.0.1/8/8"}) {
    INFO(bad);
    CHECK_FALSE(AddressSet::parse({bad}, &error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("X-Forwarded-For: believed from a trusted peer only, the right-most untrusted hop wins", "[forwarded]") {
  const AddressSet trusted = set_of({"127.0.0.1", "10.0.0.0/8"});
  // A client may send any X-Forwarded-For of its own; the proxy appends the address it saw.
  CHECK(forwarded_client("127.0.0.1", {"6.6.6.6, 203.0.113.9"}, trusted) == "203.0.113.9");
  CHECK(forwarded_client("127.0.0.1", {"6.6.6.6", "203.0.113.9, 10.0.0.2"}, trusted) == "203.0.113.9");
  CHECK(forwarded_client("127.0.0.1", {"[2001:db8::9]:4711"}, trusted) == "2001:db8::9");
  CHECK(forwarded_client("127.0.0.1", {"203.0.113.9:5555"}, trusted) == "203.0.113.9");
  // Every hop trusted: the left-most.
  CHECK(forwarded_client("127.0.0.1", {"10.0.0.3, 10.0.0.2"}, trusted) == "10.0.0.3");
  // An untrusted peer's header is never read.
  CHECK_FALSE(forwarded_client("203.0.113.50", {"10.0.0.2"}, trusted));
  // Nothing usable, or garbage where the client's address should be: keep the peer.
  CHECK_FALSE(forwarded_client("127.0.0.1", {}, trusted));
  CHECK_FALSE(forwarded_client("127.0.0.1", {" , "}, trusted));
  CHECK_FALSE(forwarded_client("127.0.0.1", {"6.6.6.6, <script>"}, trusted));
}

TEST_CASE("Forwarded: the for= values, quoted or not, as hops", "[forwarded]") {
  CHECK(forwarded_for_values({"for=192.0.2.60;proto=http;by=203.0.113.43"}) == std::vector<std::string>{"192.0.2.60"});
  CHECK(forwarded_for_values({"For=\"[2001:db8:cafe::17]:4711\", for=198.51.100.17"}) ==
        std::vector<std::string>{"[2001:db8:cafe::17]:4711", "198.51.100.17"});
  CHECK(forwarded_for_values({"proto=https", "for=_hidden"}) == std::vector<std::string>{"unknown", "_hidden"});
  const AddressSet trusted = set_of({"127.0.0.1"});
  const auto hops = forwarded_for_values({"for=6.6.6.6, for=\"203.0.113.9:1\""});
  const std::vector<std::string_view> views(hops.begin(), hops.end());
  CHECK(forwarded_client("127.0.0.1", views, trusted) == "203.0.113.9");
}
