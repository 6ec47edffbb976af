// Text a peer sent (a source's Content-Type and ice-* headers, a title, a user agent, a query
// value) made fit, once, for every place it may end up: JSON, XML, Prometheus labels, logs.
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringcast::relay {

// Valid UTF-8 with no control characters, at most a set number of bytes. The only ways to make
// one are from() (any bytes) and the empty default, so a renderer handed a PeerText never meets
// bytes that its format cannot carry.
class PeerText {
 public:
  // Longest kept by default: more than any real station name, description or user agent.
  static constexpr std::size_t kDefaultLimit = 1024;

  PeerText() = default;
  // Any bytes in. Text that is valid UTF-8 is kept as it is; text that is not is read as
  // ISO-8859-1, the charset Icecast assumes for metadata that does not say (so "caf\xe9" is
  // "café"). Control characters (C0 and DEL: a NUL, a line end, an escape sequence for a
  // terminal) are dropped, as Icecast drops them from titles. Then cut to at most `limit`
  // bytes, never inside a character.
  static PeerText from(std::string_view raw, std::size_t limit = kDefaultLimit);

  const std::string& str() const { return text_; }
  std::string_view view() const { return text_; }
  bool empty() const { return text_.empty(); }
  operator std::string_view() const { return text_; }  // NOLINT: read it anywhere a view goes
  bool operator==(const PeerText&) const = default;
  friend bool operator==(const PeerText& text, std::string_view other) { return text.text_ == other; }

 private:
  explicit PeerText(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

namespace utf8 {

// The code point at the start of `text` and its length in bytes; nullopt for an invalid
// sequence (truncated, overlong, a surrogate, or beyond U+10FFFF). `text` is not empty.
struct CodePoint {
  char32_t value;
  std::size_t length;
};
std::optional<CodePoint> decode(std::string_view text);

bool is_valid(std::string_view text);
// The longest prefix of at most `limit` bytes of `text` that does not end inside a character
// (when `text` is valid UTF-8, so is the prefix).
std::string_view prefix(std::string_view text, std::size_t limit);
// Each byte as the ISO-8859-1 character of that number.
std::string from_latin1(std::string_view text);

}  // namespace utf8

}  // namespace ringcast::relay
