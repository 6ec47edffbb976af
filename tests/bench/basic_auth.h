// HTTP Basic credentials, as the broadcaster's PUT and the title updates send them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

// The value of an Authorization header: "Basic " and base64("user:password").
inline std::string basic_authorization(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in(user);
  in += ':';
  in += password;
  std::string out = "Basic ";
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) out += kAlphabet[(bits >> (count -= 6)) & 63];
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  while ((out.size() - 6) % 4 != 0) out += '=';
  return out;
}

}  // namespace ringcast::bench
