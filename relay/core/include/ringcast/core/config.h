// Everything the command line and the config file set, with the defaults documented in
// docs/operations.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringcast/core/fanout.h"

namespace ringcast::relay {

struct UsersFile;

// Per-mount settings from the config file's [mounts."/name"] sections. Unset fields fall back
// to the relay-wide values.
struct MountSettings {
  std::optional<std::string> source_password;  // this mount's sources use it instead
  std::optional<std::size_t> burst_bytes;
  std::optional<std::size_t> ring_bytes;       // takes effect when the mount is (re)created
  std::optional<std::uint32_t> ring_seconds;   // the ring holds this long at the declared rate
  std::optional<std::uint32_t> latency_budget_ms;
  std::optional<std::uint32_t> hls_segment_ms;  // MPEG-TS video: HLS segments at least this long
  std::optional<std::size_t> max_viewers;      // 0: no limit
  std::optional<std::string> content_type;     // sent to viewers whatever the source declares
  std::optional<std::uint32_t> icy_metaint;    // ICY listeners' metadata interval (0: off)
  std::optional<bool> hidden;                  // not listed in status-json nor the dashboard
  // What listeners and the status pages are told about the stream, whatever the source says
  // (Icecast's stream-name, stream-description, stream-url, genre, bitrate, public): they
  // replace the source's ice-name, ice-description, ice-url, ice-genre, ice-bitrate, ice-public.
  std::optional<std::string> stream_name;
  std::optional<std::string> stream_description;
  std::optional<std::string> stream_url;
  std::optional<std::string> stream_genre;
  std::optional<std::size_t> stream_bitrate;  // kbit/s
  std::optional<bool> stream_public;
  // The charset of a metadata update that names none (Icecast's <charset>): UTF-8 or ISO-8859-1.
  std::optional<std::string> charset;
  // Where listeners go while this mount has no source (fallback.h), and whether they come back
  // when it returns (Icecast's fallback-mount and fallback-override).
  std::optional<std::string> fallback_mount;
  bool fallback_override = false;
  // A full mount sends new listeners down its fallback chain, to the first live mount that has
  // room (Icecast's fallback-when-full), instead of answering 503.
  bool fallback_when_full = false;
  // Listener authentication (auth.h): a users file, and Icecast's url authenticator.
  std::optional<std::string> listener_users_file;
  std::shared_ptr<const UsersFile> listener_users;  // read from it when the config is loaded
  std::optional<std::string> listener_add_url;      // POST action=listener_add: allowed?
  std::optional<std::string> listener_remove_url;   // POST action=listener_remove, when it leaves
  // Source authentication and notices, as Icecast's url authenticator.
  std::optional<std::string> stream_auth_url;  // POST action=stream_auth instead of the password
  std::optional<std::string> mount_add_url;    // POST action=mount_add when a source starts
  std::optional<std::string> mount_remove_url;  // POST action=mount_remove when it leaves
  std::uint32_t auth_timeout_ms = 5000;         // an answer later than this refuses (fails closed)
  std::string auth_header = "icecast-auth-user: 1";  // the header that allows
  // Client headers passed on to listener_add (Icecast's `headers`, `header_prefix`).
  std::vector<std::string> auth_forward_headers;
  std::string auth_header_prefix = "ClientHeader.";
  // A user of the users file may listen on one connection at a time unless this is set
  // (Icecast's htpasswd option allow_duplicate_users; the url authenticator's server decides).
  bool allow_duplicate_users = false;

  // The source's ice-* headers this mount's settings replace, by name, with their values.
  std::vector<std::pair<std::string, std::string>> ice_overrides() const;

  bool listener_auth() const { return listener_users != nullptr || listener_add_url.has_value(); }
};

// ICY metadata intervals a listener may be given: 0 (off) or within these bounds.
inline constexpr std::uint32_t kMinIcyMetaint = 256;
inline constexpr std::uint32_t kMaxIcyMetaint = 1 << 20;

// Who may read /stats, /metrics and the dashboard.
enum class StatsAccess {
  open,            // anyone, on every listener
  password,        // the admin password, on every listener
  admin_listener,  // anyone, but only on the admin listener (404 on the public one)
};

// A mount relayed from a given origin, whatever listeners ask for (config [[relays]]; Icecast's
// <relay>): always pulled, or on demand like an edge's.
struct StaticRelay {
  std::string url;    // http://[USER:PASSWORD@]HOST:PORT/REMOTE-MOUNT
  std::string mount;  // the local mount ("": the remote mount's name)
  bool on_demand = false;
};

// A master whose every mount this relay relays (config [master]; Icecast's <master-server>):
// its list (GET /admin/streamlist.txt, as Icecast 2.4's slaves read it) is fetched every
// update_interval, and each listed mount is pulled all the time, or on demand.
struct MasterSettings {
  std::string url;  // http://[USER:PASSWORD@]HOST:PORT (the master's relay user)
  std::uint32_t update_interval_ms = 120'000;
  bool on_demand = false;
};

struct RelayConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8000;
  std::string source_password;  // empty: generated at start
  std::size_t ring_bytes = 0;       // per mount; 0: sized by time (ring_seconds, see RingSizing)
  std::uint32_t ring_seconds = 0;  // a ring sized by time holds this long (0: 10 s, 30 s for MPEG-TS)
  std::uint32_t grace_ms = 10'000;             // viewers wait this long for a source to return
  // SIGTERM drains for this long: new listeners and sources get 503, /health 503, the present
  // listeners keep listening; the relay exits when they have all left or the time is up. 0:
  // SIGTERM stops at once (SIGINT always does).
  std::uint32_t drain_ms = 0;
  // /health answers 503 while any of these mounts has no source (a balancer then sends their
  // listeners elsewhere).
  std::vector<std::string> ready_mounts;
  std::uint32_t source_idle_timeout_ms = 10'000;  // a source sending nothing this long is dropped
  std::size_t max_head_bytes = 8 * 1024;       // request head larger: 431
  std::uint32_t head_timeout_ms = 15'000;      // request head slower: 408
  std::size_t max_mount_length = 128;
  std::size_t workers = 1;         // event loops serving connections
  std::size_t max_connections = 0;       // over it: 503 (0: the descriptor limit minus 64)
  std::size_t max_viewers_per_mount = 0;  // over it: 503 (0: no limit)
  std::size_t max_mounts = 100;           // a new mount over it: 503
  std::uint32_t viewer_stall_timeout_ms = 20'000;  // a viewer's write without progress: closed
  std::uint32_t icy_metaint = 16'000;  // listeners sending Icy-MetaData: 1 (0: never)
  FanoutSettings fanout;

  // Operators' surface.
  std::string admin_password;         // empty: the admin endpoints answer 403
  std::string admin_user = "admin";   // the admin's user name (Icecast's <admin-user>)
  // What status-json and /admin/stats say of the server (Icecast's <location> and <admin>).
  std::string location = "Earth";
  std::string admin_contact = "icemaster@localhost";
  // Icecast's relay user: what Icecast slaves send for /admin/streamlist.txt (empty password:
  // only the admin may read it).
  std::string relay_user = "relay";
  std::string relay_password;
  // The Basic realm of every challenge; Icecast's by default, for clients that bind their
  // credentials to it.
  std::string realm = "Icecast2 Server";
  // Behind a proxy (haproxy, a TLS front): which peers may say who the client is, by a PROXY
  // protocol header (v1 or v2; with proxy_protocol, required on every connection of the main
  // listener, from these peers only) or by X-Forwarded-For / Forwarded (read only from these).
  // Addresses or networks: "127.0.0.1", "10.0.0.0/8", "fd00::/8".
  bool proxy_protocol = false;
  std::vector<std::string> trusted_proxies;
  // An edge: a listener's request for a mount this relay lacks is pulled from these origins
  // ("http://host:port[/prefix]"), in order of preference, and served here while anyone
  // listens; the pull stops relay_linger_ms after the last local listener left.
  std::vector<std::string> relay_origins;
  std::uint32_t relay_linger_ms = 10'000;
  // Fed by a less preferred origin, an edge tries the preferred ones again this often and moves
  // back to the first that serves (0: never).
  std::uint32_t relay_retry_preferred_ms = 15'000;
  std::size_t relay_max_hops = 8;  // a pull that passed through this many relays is refused (508)
  std::vector<StaticRelay> relays;
  std::optional<MasterSettings> master;
  std::string admin_listen_host;      // empty: no admin listener
  std::uint16_t admin_listen_port = 0;
  StatsAccess stats_access = StatsAccess::open;
  std::string access_log;             // path, "-" for stdout, empty for none
  std::string log_level = "info";
  std::map<std::string, MountSettings> mounts;  // by mount path, "/live.ts"
};

// "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces). False: not that shape.
bool parse_listen_address(const std::string& text, std::string& host, std::uint16_t& port);

}  // namespace ringcast::relay
