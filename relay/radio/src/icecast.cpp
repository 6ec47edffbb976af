// Icecast 2.4 compatibility, formatted as Icecast 2.4.4 formats it (src/format_mp3.c
// mp3_set_title, src/admin.c command_metadata, web/status-json.xsl over src/stats.c), with the
// differences named where they are made.
#include "ringcast/radio/icecast.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ringcast/http/http_request.h"
#include "ringcast/http/peer_text.h"

namespace ringcast::relay {

namespace {

constexpr std::string_view kStreamTitle = "StreamTitle='";
constexpr std::string_view kStreamUrl = "StreamUrl='";
constexpr std::string_view kClose = "';";

// Charset names compared as their IANA aliases are written in the wild: case, '-' and '_'
// do not matter ("ISO-8859-1", "iso8859_1", "Latin1").
std::string charset_key(std::string_view name) {
  std::string key;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return key;
}

bool is_latin1(std::string_view charset) {
  const std::string key = charset_key(charset);
  return key == "iso88591" || key == "latin1" || key == "l1" || key == "isolatin1" ||
         key == "cp819" || key == "ibm819";
}

// A text parameter, decoded, converted to UTF-8 and checked: nullopt when absent, the problem
// when it cannot be had as UTF-8.
using TextOrProblem = std::variant<std::optional<std::string>, std::string>;
TextOrProblem text_parameter(std::string_view target, std::string_view name,
                             const std::optional<std::string>& charset) {
  auto value = query_parameter(target, name);
  if (!value) {
    if (has_query_parameter(target, name)) {
      return "badly percent-encoded parameter: " + std::string(name);
    }
    return std::optional<std::string>{};
  }
  if (charset && is_latin1(*charset)) *value = utf8::from_latin1(*value);
  if (!utf8::is_valid(*value)) {
    if (charset && charset_key(*charset) != "utf8") {
      return std::string(name) + " is neither ISO-8859-1 nor UTF-8 (charset " + *charset +
             " cannot be converted)";
    }
    return std::string(name) + " is not valid UTF-8";
  }
  // Control characters end a title line in players and have no business in XML: PeerText
  // drops them rather than refusing the title, as a title with a stray newline is still one.
  return std::optional<std::string>{PeerText::from(*value, kMaxTitleBytes).str()};
}

// libxml2's escaping of text content when the document declares no encoding (Icecast's
// xmlNewDoc("1.0")): & < > as entities, CR and every non-ASCII character as a hex character
// reference. Characters XML 1.0 cannot carry are dropped (libxml2 gives up on the whole
// document instead) and invalid UTF-8 becomes U+FFFD.
std::string xml_escape(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const auto point = utf8::decode(text);
    const char32_t value = point ? point->value : U'\uFFFD';
    text.remove_prefix(point ? point->length : 1);
    if (value == '&') {
      out += "&amp;";
    } else if (value == '<') {
      out += "&lt;";
    } else if (value == '>') {
      out += "&gt;";
    } else if (value == '\t' || value == '\n') {
      out += static_cast<char>(value);
    } else if (value == '\r') {
      out += "&#xD;";  // a raw CR would be read back as a line end
    } else if (value < 0x20 || value == 0xFFFE || value == 0xFFFF) {
      continue;
    } else if (value < 0x80) {
      out += static_cast<char>(value);
    } else {
      std::array<char, 16> reference{};
      std::snprintf(reference.data(), reference.size(), "&#x%X;", static_cast<unsigned>(value));
      out += reference.data();
    }
  }
  return out;
}

std::string admin_response(std::string_view message, bool success) {
  std::string out = "<?xml version=\"1.0\"?>\n<iceresponse><message>";
  out += xml_escape(message);
  out += "</message><return>";
  out += success ? '1' : '0';
  out += "</return></iceresponse>\n";
  return out;
}

struct CivilTime {
  std::chrono::year_month_day date;
  std::chrono::weekday weekday;
  std::chrono::hh_mm_ss<std::chrono::seconds> time;
};
CivilTime civil_time(std::uint64_t unix_ms) {
  const std::chrono::sys_seconds at{
      std::chrono::seconds{static_cast<std::int64_t>(unix_ms / 1000)}};
  const auto day = std::chrono::floor<std::chrono::days>(at);
  return {std::chrono::year_month_day{day}, std::chrono::weekday{day},
          std::chrono::hh_mm_ss<std::chrono::seconds>{at - day}};
}

const std::string& or_default(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

nlohmann::json source_json(const IcecastSource& source) {
  nlohmann::json json = {
      {"listeners", source.listeners},
      {"listener_peak", source.listener_peak},
      {"server_name", source.shown_name()},
      {"server_description", source.shown_description()},
      {"genre", source.shown_genre()},
      {"stream_start", icecast_time(source.stream_start_unix_ms)},
      {"stream_start_iso8601", icecast_time_iso8601(source.stream_start_unix_ms)},
  };
  // Icecast sets a stat only when it has a value (stats_event with NULL removes it), and the
  // xsl turns an empty one into null: absent is what a client already copes with.
  const auto put_if_set = [&](const char* key, const std::string& value) {
    if (!value.empty()) json[key] = value;
  };
  put_if_set("listenurl", source.listenurl);
  put_if_set("server_type", source.server_type);
  put_if_set("server_url", source.server_url);
  put_if_set("title", source.title);
  if (source.artist) put_if_set("artist", *source.artist);
  if (source.bitrate) json["bitrate"] = *source.bitrate;
  return json;
}

}  // namespace

const std::string& IcecastServerInfo::shown_host() const {
  static const std::string localhost = "localhost";
  return or_default(host, localhost);
}

const std::string& IcecastSource::shown_name() const {
  static const std::string unspecified = "Unspecified name";
  return or_default(server_name, unspecified);
}

const std::string& IcecastSource::shown_description() const {
  static const std::string unspecified = "Unspecified description";
  return or_default(server_description, unspecified);
}

const std::string& IcecastSource::shown_genre() const {
  static const std::string various = "various";
  return or_default(genre, various);
}

std::string icy_metadata_block(std::string_view title, std::string_view url) {
  constexpr std::size_t title_overhead = kStreamTitle.size() + kClose.size();
  const std::size_t url_part = url.empty() ? 0 : kStreamUrl.size() + url.size() + kClose.size();
  if (title_overhead + title.size() + url_part > kIcyMetadataMaxText) url = {};
  const std::size_t kept_url_part = url.empty() ? 0 : url_part;
  title = utf8::prefix(title, kIcyMetadataMaxText - title_overhead - kept_url_part);

  std::string text;
  text.reserve(title_overhead + title.size() + kept_url_part);
  text += kStreamTitle;
  text += title;
  text += kClose;
  if (!url.empty()) {
    text += kStreamUrl;
    text += url;
    text += kClose;
  }
  // format_mp3.c: len_byte = (len-1)/16 + 1 with len counting the C string's NUL, so a text
  // of a multiple of 16 bytes gets a whole block of NULs after it.
  const std::size_t length_byte = text.size() / 16 + 1;
  std::string block(1 + length_byte * 16, '\0');
  block[0] = static_cast<char>(length_byte);
  text.copy(block.data() + 1, text.size());
  return block;
}

bool is_known_charset(std::string_view charset) {
  return is_latin1(charset) || charset_key(charset) == "utf8";
}

std::variant<MetadataUpdate, std::string> parse_metadata_update(std::string_view target,
                                                                const std::optional<std::string>& mount_charset) {
  // In Icecast's order: the mount first (admin.c admin_handle_request), then the mode.
  const auto mount = query_parameter(target, "mount");
  if (!mount || mount->empty()) return std::string("missing parameter: mount");
  const auto mode = query_parameter(target, "mode");
  if (!mode) return std::string("missing parameter: mode");
  // Icecast answers any other mode with an XML failure "No such action".
  if (*mode != "updinfo") return "no such action: mode " + *mode + " (only updinfo)";

  const auto charset = has_query_parameter(target, "charset") ? query_parameter(target, "charset") : mount_charset;
  std::optional<std::string> song, title, artist, url;
  for (auto [name, value] : {std::pair{"song", &song}, std::pair{"title", &title},
                             std::pair{"artist", &artist}, std::pair{"url", &url}}) {
    auto text = text_parameter(target, name, charset);
    if (auto* problem = std::get_if<std::string>(&text)) return std::move(*problem);
    *value = std::move(std::get<std::optional<std::string>>(text));
  }

  MetadataUpdate update;
  update.mount = *mount;
  update.url = PeerText::from(url.value_or(std::string()), kMaxTitleBytes);
  // Icecast's command_metadata: song wins (an empty one clears the title), else
  // "artist - title". It ignores title or artist alone; ringcast takes whichever was given.
  const bool has_title = title && !title->empty();
  const bool has_artist = artist && !artist->empty();
  if (song) {
    update.song = PeerText::from(*song, kMaxTitleBytes);
  } else if (has_artist && has_title) {
    update.song = PeerText::from(*artist + " - " + *title, kMaxTitleBytes);
  } else if (has_title) {
    update.song = PeerText::from(*title, kMaxTitleBytes);
  } else if (has_artist) {
    update.song = PeerText::from(*artist, kMaxTitleBytes);
  } else {
    return std::string("nothing to set: no song, title or artist");
  }
  return update;
}

std::string icecast_admin_success(std::string_view message) {
  return admin_response(message, true);
}

std::string icecast_admin_failure(std::string_view message) {
  return admin_response(message, false);
}

// What web/status-json.xsl (over web/xml2json.xslt) makes of Icecast's stats tree, and where
// this differs:
// - Stats are kept in AVL trees ordered by strcmp and sources come after the globals, so keys
//   are byte-sorted; nlohmann::json's std::map gives the same order.
// - The xsl hides listeners, clients, sources, stats and *connections* at the top and
//   max_listeners, public, source_ip, slow_listeners, total_bytes_* and user_agent per source;
//   none of those are emitted. Its hiding templates print "dummy":null when a hidden node is
//   the last child (every source object, and icestats without sources, in practice): that is an
//   artefact, not data, and is left out.
// - The xsl guesses types from the text: "1999" or "true" as a title becomes a number or a
//   boolean. Here only listeners, listener_peak and bitrate are numbers; text stays a string.
std::string render_status_json(const IcecastServerInfo& server,
                               const std::vector<IcecastSource>& sources) {
  nlohmann::json icestats = {
      {"admin", server.admin},
      {"host", server.shown_host()},
      {"location", server.location},
      {"server_id", server.server_id},
      {"server_start", icecast_time(server.server_start_unix_ms)},
      {"server_start_iso8601", icecast_time_iso8601(server.server_start_unix_ms)},
  };
  if (sources.size() == 1) {
    icestats["source"] = source_json(sources.front());
  } else if (sources.size() > 1) {
    nlohmann::json list = nlohmann::json::array();
    for (const IcecastSource& source : sources) list.push_back(source_json(source));
    icestats["source"] = std::move(list);
  }
  // Invalid UTF-8 from a source's headers becomes U+FFFD instead of throwing mid-request.
  return nlohmann::json{{"icestats", std::move(icestats)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string icecast_time(std::uint64_t unix_ms) {
  static constexpr std::array<const char*, 7> weekdays = {"Sun", "Mon", "Tue", "Wed",
                                                          "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const CivilTime t = civil_time(unix_ms);
  // stats.c: strftime "%a, %d %b %Y %H:%M:%S " then "%z"; in the C locale, here in UTC.
  std::array<char, 64> out{};
  std::snprintf(out.data(), out.size(), "%s, %02u %s %04d %02ld:%02ld:%02ld +0000",
                weekdays[t.weekday.c_encoding()], static_cast<unsigned>(t.date.day()),
                months[static_cast<unsigned>(t.date.month()) - 1], static_cast<int>(t.date.year()),
                static_cast<long>(t.time.hours().count()),
                static_cast<long>(t.time.minutes().count()),
                static_cast<long>(t.time.seconds().count()));
  return out.data();
}

std::string icecast_time_iso8601(std::uint64_t unix_ms) {
  const CivilTime t = civil_time(unix_ms);
  // stats.c: strftime "%Y-%m-%dT%H:%M:%S" then "%z" (no colon in the offset).
  std::array<char, 64> out{};
  std::snprintf(out.data(), out.size(), "%04d-%02u-%02uT%02ld:%02ld:%02ld+0000",
                static_cast<int>(t.date.year()), static_cast<unsigned>(t.date.month()),
                static_cast<unsigned>(t.date.day()), static_cast<long>(t.time.hours().count()),
                static_cast<long>(t.time.minutes().count()),
                static_cast<long>(t.time.seconds().count()));
  return out.data();
}

std::string icy_header_name(std::string_view header_name) {
  std::string lower(header_name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "ice-name") return "icy-name";
  if (lower == "ice-genre") return "icy-genre";
  if (lower == "ice-description") return "icy-description";
  if (lower == "ice-url") return "icy-url";
  if (lower == "ice-public") return "icy-pub";
  if (lower == "ice-bitrate") return "icy-br";
  return lower;
}

}  // namespace ringcast::relay
