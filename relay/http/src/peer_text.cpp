// PeerText and the UTF-8 rules it applies (peer_text.h).
#include "ringcast/http/peer_text.h"

#include <algorithm>

namespace ringcast::relay {

namespace utf8 {

std::optional<CodePoint> decode(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return CodePoint{lead, 1};
  std::size_t length = 0;
  char32_t value = 0;
  char32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, smallest = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() < length) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return std::nullopt;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return std::nullopt;
  }
  return CodePoint{value, length};
}

bool is_valid(std::string_view text) {
  while (!text.empty()) {
    const auto point = decode(text);
    if (!point) return false;
    text.remove_prefix(point->length);
  }
  return true;
}

std::string_view prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  // A character has at most three continuation bytes: stepping back further would only
  // happen in text that is not UTF-8, where any cut will do.
  std::size_t cut = limit;
  while (cut > 0 && limit - cut < 3 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string from_latin1(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xC0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3F));
    }
  }
  return out;
}

}  // namespace utf8

PeerText PeerText::from(std::string_view raw, std::size_t limit) {
  // Bound the work before converting: ISO-8859-1 at most doubles the size.
  raw = utf8::prefix(raw, limit * 2 + 4);
  std::string text = utf8::is_valid(raw) ? std::string(raw) : utf8::from_latin1(raw);
  // Both are valid UTF-8 now, and a control character is one byte that no multi-byte
  // sequence contains: dropping bytes < 0x20 and 0x7F keeps it valid.
  std::erase_if(text, [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
  text.resize(utf8::prefix(text, limit).size());
  return PeerText(std::move(text));
}

}  // namespace ringcast::relay
