// Icecast 2.4 compatibility, the pure parts: the ICY metadata block a listener receives
// in-stream, the /admin/metadata?mode=updinfo request and its XML answers, and /status-json.xsl
// in Icecast 2.4.4's schema. Bytes in, bytes out: no I/O, no clock, no libuv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ringcast/http/peer_text.h"
#include "ringcast/core/version.h"

namespace ringcast::relay {

// The most text one block carries: the length byte counts 16-byte units (at most 255), and
// Icecast always keeps at least one NUL after the text.
inline constexpr std::size_t kIcyMetadataMaxText = 255 * 16 - 1;

// One ICY metadata block, as a listener with `Icy-MetaData: 1` receives it after every
// icy-metaint stream bytes: a length byte L, then 16*L bytes holding
// `StreamTitle='<title>';StreamUrl='<url>';` (StreamUrl only when url is non-empty) padded with
// NULs. L is text/16 + 1, as Icecast 2.4 computes it, so an empty title is the 17 bytes
// "\x01StreamTitle='';" plus one NUL. Quotes and UTF-8 are sent as they are. When the text would
// exceed kIcyMetadataMaxText, StreamUrl is dropped first (a cut URL is a wrong one), then the
// title is cut at a UTF-8 character boundary (Icecast instead ignores such an update).
std::string icy_metadata_block(std::string_view title, std::string_view url = {});

// A metadata update, checked: UTF-8, without control characters.
struct MetadataUpdate {
  std::string mount;
  PeerText song;  // already "artist - title" when the request gave those instead of song
  PeerText url;   // empty when not given (Icecast 2.4.4 ignores url; ringcast sends StreamUrl)
};

// The longest title and URL kept: the ICY block holds at most 4079 bytes of text anyway.
inline constexpr std::size_t kMaxTitleBytes = 4096;

// Whether titles can be converted from `charset`: UTF-8 or ISO-8859-1 ("ISO-8859-1", "latin1",
// "utf8", ...: case, '-' and '_' do not matter).
bool is_known_charset(std::string_view charset);

// Parses /admin/metadata?mount=/m&mode=updinfo&song=... (or artist and title instead of song;
// charset and url optional). Returns the problem instead when mount or mode is missing, mode is
// not updinfo, nothing to set was given, a value is badly percent-encoded, or a text is not
// valid UTF-8 once converted from its charset (ISO-8859-1 is converted; without charset the
// text must already be UTF-8). `mount_charset` is the charset of a request that names none
// (the mount's `charset`, Icecast's <charset>). Authentication and whether the mount exists are
// the caller's.
std::variant<MetadataUpdate, std::string> parse_metadata_update(
    std::string_view target, const std::optional<std::string>& mount_charset = std::nullopt);

// Icecast's answers to an admin command, byte for byte as libxml2 writes them:
// <?xml version="1.0"?>\n<iceresponse><message>...</message><return>1</return></iceresponse>\n
// (<return>0</return> for a failure). The message is XML-escaped.
std::string icecast_admin_success(std::string_view message);
std::string icecast_admin_failure(std::string_view message);

struct IcecastServerInfo {
  std::string admin = "icemaster@localhost";
  std::string host;  // empty: "localhost", Icecast's default <hostname>
  std::string location = "Earth";
  std::string server_id = std::string("ringcast ") + kVersion;
  std::uint64_t server_start_unix_ms = 0;

  const std::string& shown_host() const;  // host, or Icecast's default
};

struct IcecastSource {
  std::string listenurl;  // http://host:port/mount
  std::uint64_t listeners = 0;
  std::uint64_t listener_peak = 0;
  std::string server_name;         // empty: "Unspecified name", as Icecast fills it
  std::string server_description;  // empty: "Unspecified description"
  std::string server_type;         // the content type
  std::string genre;               // empty: "various"
  std::string title;
  std::string server_url;
  std::optional<std::uint64_t> bitrate;  // kbit/s, from ice-bitrate / icy-br
  std::uint64_t stream_start_unix_ms = 0;
  std::optional<std::string> artist;  // only when known separately

  // What Icecast shows for these when the source sent none: its source_apply_mount
  // (src/source.c) always sets them, every document says the same words.
  const std::string& shown_name() const;
  const std::string& shown_description() const;
  const std::string& shown_genre() const;
};

// The body of /status-json.xsl as Icecast 2.4.4 renders it: {"icestats":{...}} with the same
// keys in the same (byte-sorted) order; "source" is an object for one source, an array for
// several and absent for none. listeners, listener_peak and bitrate are numbers, the rest
// strings. Empty optional fields are omitted, as Icecast omits stats it never set.
std::string render_status_json(const IcecastServerInfo& server,
                               const std::vector<IcecastSource>& sources);

// Icecast's name for a source's ice-* or icy-* header as listeners see it, in lower case
// (ice-name -> icy-name, ice-bitrate -> icy-br, ice-public -> icy-pub; others as they are).
std::string icy_header_name(std::string_view header_name);

// Icecast's two time formats, in UTC: "Tue, 01 Dec 2026 10:00:00 +0000" and
// "2026-12-01T10:00:00+0000". Milliseconds are dropped.
std::string icecast_time(std::uint64_t unix_ms);
std::string icecast_time_iso8601(std::uint64_t unix_ms);

}  // namespace ringcast::relay
