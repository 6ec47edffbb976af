// Icecast 2.4's admin documents as radio automation reads them (AzuraCast's now-playing
// adapter, LibreTime's playout stats, Icecast slaves): /admin/stats (and stats.xml),
// /admin/listclients, /admin/listmounts and /admin/streamlist.txt, in Icecast 2.4.4's shape
// (src/admin.c, src/stats.c), written with libxml2 as Icecast writes them. Pure: values in,
// bytes out. Every text in is PeerText or a mount name, so libxml2 never meets invalid UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ringcast/radio/icecast.h"

namespace ringcast::relay {

// The relay-wide stats Icecast keeps (its "global" stats node).
struct IcecastGlobals {
  IcecastServerInfo server;
  std::uint64_t clients = 0;                    // connections open now
  std::uint64_t connections = 0;                // connections accepted since start
  std::uint64_t client_connections = 0;         // the same (Icecast counts them apart: HTTP clients)
  std::uint64_t listeners = 0;                  // listeners now
  std::uint64_t listener_connections = 0;       // listeners accepted since start
  std::uint64_t sources = 0;                    // live sources now
  std::uint64_t source_client_connections = 0;  // sources accepted since start
  std::uint64_t source_relay_connections = 0;   // relays pulled since start
};

// One mount as /admin/stats shows it: status-json's fields and the ones only the admin sees.
struct IcecastAdminSource {
  std::string mount;
  IcecastSource source;
  std::optional<std::uint64_t> max_listeners;  // nullopt: "unlimited"
  bool is_public = false;                      // ice-public / icy-pub
  std::string audio_info;                      // ice-audio-info, when the source sent it
  std::string source_ip;
  std::string user_agent;                      // the source's
  std::uint64_t slow_listeners = 0;
  std::uint64_t total_bytes_read = 0;
  std::uint64_t total_bytes_sent = 0;
  std::uint64_t connected_seconds = 0;        // since the source connected (listmounts)
  std::string fallback;                       // the mount's fallback_mount, or empty
  bool hidden = false;                        // listed to the admin, left out of streamlist
};

struct IcecastListener {
  std::uint64_t id = 0;
  std::string ip;          // the bare address
  std::string user_agent;  // PeerText
  std::uint64_t connected_seconds = 0;
};

// /admin/stats: the globals, then one <source mount="..."> per mount (sorted by mount), every
// node's children in Icecast's order (byte-sorted names, as its AVL trees keep them).
std::string render_admin_stats(const IcecastGlobals& globals, const std::vector<IcecastAdminSource>& sources);
// /admin/listmounts (with or without ?with_listeners=1: Icecast 2.4.4 answers the same).
std::string render_admin_listmounts(const std::vector<IcecastAdminSource>& sources);
// /admin/listclients?mount=M: <Listeners>N</Listeners> and a <listener> per listener.
std::string render_admin_listclients(const std::string& mount, const std::vector<IcecastListener>& listeners);
// /admin/streamlist.txt: one mount per CRLF-ended line (the caller leaves hidden mounts out), sorted.
std::string render_streamlist(std::vector<std::string> mounts);

// What Icecast's admin documents are sent as.
inline constexpr std::string_view kIcecastXmlType = "text/xml; charset=utf-8";

}  // namespace ringcast::relay
