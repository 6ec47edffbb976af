// libFuzzer target for what a proxy in front sends: the PROXY protocol header and the
// X-Forwarded-For / Forwarded values. For any bytes: a complete header consumes at most the
// bound and is incomplete at every shorter prefix and the same when cut right after it; a
// malformed one stays malformed whatever follows; an incomplete one is shorter than the bound;
// a client address found is a real address (it goes into logs, the access log and limits).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "ringcast/http/forwarded.h"
#include "ringcast/http/proxy_protocol.h"

using namespace ringcast::relay;

namespace {

bool is_address(const std::string& text) {
  std::string error;
  return AddressSet::parse({text}, &error).has_value() && text.find('/') == std::string::npos;
}

void check_proxy(std::string_view input) {
  const ProxyParseResult result = parse_proxy_header(input);
  switch (result.status) {
    case ProxyParseStatus::complete: {
      FUZZ_CHECK(result.consumed > 0 && result.consumed <= input.size(), "consumed %zu of %zu", result.consumed,
                 input.size());
      FUZZ_CHECK(result.consumed <= kMaxProxyHeaderBytes, "consumed %zu", result.consumed);
      const ProxyParseResult exact = parse_proxy_header(input.substr(0, result.consumed));
      FUZZ_CHECK(exact.status == ProxyParseStatus::complete && exact.consumed == result.consumed,
                 "the header alone is not the same header");
      FUZZ_CHECK(exact.header.source_address == result.header.source_address, "addresses differ");
      for (std::size_t cut = 0; cut < result.consumed; ++cut) {
        FUZZ_CHECK(parse_proxy_header(input.substr(0, cut)).status == ProxyParseStatus::incomplete,
                   "a %zu-byte prefix of a %zu-byte header is not incomplete", cut, result.consumed);
      }
      if (result.header.command == ProxyHeader::Command::proxy) {
        FUZZ_CHECK(is_address(result.header.source_address), "source '%s' is no address",
                   result.header.source_address.c_str());
        FUZZ_CHECK(is_address(result.header.destination_address), "destination is no address");
      }
      break;
    }
    case ProxyParseStatus::malformed: {
      FUZZ_CHECK(!result.error.empty(), "malformed without a reason");
      const std::string longer = std::string(input) + "\r\n\r\nPROXY";
      FUZZ_CHECK(parse_proxy_header(longer).status == ProxyParseStatus::malformed, "malformed, then not");
      break;
    }
    case ProxyParseStatus::incomplete:
      FUZZ_CHECK(input.size() < kMaxProxyHeaderBytes, "incomplete at %zu bytes", input.size());
      break;
  }
}

void check_forwarded(std::string_view input) {
  static const AddressSet trusted = *AddressSet::parse({"127.0.0.0/8", "10.0.0.0/8", "::1"}, nullptr);
  // The input as one header value, and split at NULs into several.
  std::vector<std::string_view> values;
  std::size_t at = 0;
  while (at <= input.size()) {
    const std::size_t nul = input.find('\0', at);
    values.push_back(input.substr(at, nul == std::string_view::npos ? std::string_view::npos : nul - at));
    if (nul == std::string_view::npos) break;
    at = nul + 1;
  }
  if (const auto client = forwarded_client("127.0.0.1", values, trusted)) {
    FUZZ_CHECK(is_address(*client), "X-Forwarded-For client '%s' is no address", client->c_str());
  }
  const std::vector<std::string> hops = forwarded_for_values(values);
  const std::vector<std::string_view> views(hops.begin(), hops.end());
  if (const auto client = forwarded_client("10.1.2.3", views, trusted)) {
    FUZZ_CHECK(is_address(*client), "Forwarded client '%s' is no address", client->c_str());
  }
  FUZZ_CHECK(!forwarded_client("203.0.113.1", values, trusted), "an untrusted peer was believed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_proxy(input);
  check_forwarded(input);
  return 0;
}
