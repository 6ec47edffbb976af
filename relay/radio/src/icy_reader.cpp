#include "ringcast/radio/icy_reader.h"

#include <algorithm>
#include <cstring>

namespace ringcast::relay {
namespace {

constexpr std::size_t kMaxBlockBytes = 255 * 16;

// The value of `key='…'` in `text`: it ends at the first "';" after it, or, without one, at the
// last quote (Icecast writes "StreamTitle='…';", some servers drop the final semicolon).
bool find_field(std::string_view text, std::string_view key, std::string& value) {
  std::size_t at = 0;
  while (true) {
    at = text.find(key, at);
    if (at == std::string_view::npos) return false;
    // A field begins the block or follows a semicolon.
    if (at == 0 || text[at - 1] == ';') break;
    at += key.size();
  }
  std::size_t start = at + key.size();
  if (start + 2 > text.size() || text[start] != '=' || text[start + 1] != '\'') return false;
  start += 2;
  std::size_t end = text.find("';", start);
  if (end == std::string_view::npos) {
    end = text.rfind('\'');
    if (end == std::string_view::npos || end < start) return false;
  }
  value.assign(text.substr(start, end - start));
  return true;
}

}  // namespace

IcyFields parse_icy_fields(std::string_view text) {
  // Padding: the block is NUL-filled to a multiple of 16.
  const std::size_t nul = text.find('\0');
  if (nul != std::string_view::npos) text = text.substr(0, nul);
  IcyFields fields;
  fields.has_title = find_field(text, "StreamTitle", fields.title);
  fields.has_url = find_field(text, "StreamUrl", fields.url);
  return fields;
}

IcyReader::IcyReader(std::uint32_t metaint) : metaint_(metaint), audio_left_(metaint) {
  block_.reserve(kMaxBlockBytes);
}

IcyReader::Result IcyReader::decode(std::span<std::byte> bytes) {
  Result result;
  std::size_t in = 0;
  std::size_t out = 0;
  const std::size_t n = bytes.size();
  while (in < n) {
    if (meta_left_ > 0) {
      const std::size_t take = std::min(meta_left_, n - in);
      block_.append(reinterpret_cast<const char*>(bytes.data() + in), take);
      in += take;
      meta_left_ -= take;
      if (meta_left_ == 0) {
        const IcyFields fields = parse_icy_fields(block_);
        if (fields.has_title) title_ = fields.title;
        if (fields.has_url) url_ = fields.url;
        result.metadata = result.metadata || fields.has_title || fields.has_url;
        block_.clear();
        audio_left_ = metaint_;
      }
      continue;
    }
    if (in_length_) {
      const auto length = static_cast<std::uint8_t>(bytes[in]);
      ++in;
      in_length_ = false;
      ++blocks_;
      if (length == 0) {
        audio_left_ = metaint_;
      } else {
        meta_left_ = static_cast<std::size_t>(length) * 16;
        block_.clear();
      }
      continue;
    }
    const std::size_t take = std::min<std::size_t>(audio_left_, n - in);
    if (out != in) std::memmove(bytes.data() + out, bytes.data() + in, take);
    in += take;
    out += take;
    audio_left_ -= static_cast<std::uint32_t>(take);
    if (audio_left_ == 0) in_length_ = true;
  }
  audio_total_ += out;
  result.body_bytes = out;
  return result;
}

}  // namespace ringcast::relay
