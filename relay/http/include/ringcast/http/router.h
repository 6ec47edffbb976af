// Which handler serves a request: the routing table, in one place, apart from connection
// handling. Pure: a method, a path and the listener in; a route out.
#pragma once

#include <string_view>

#include "ringcast/http/http_request.h"

namespace ringcast::relay {

enum class Route {
  viewer,              // GET/HEAD of a mount
  hls,                 // GET/HEAD of /M/index.m3u8 or /M/<sequence>.ts: HLS cut from M's ring
  source,              // PUT/SOURCE of a mount
  preflight,           // OPTIONS: a browser's CORS preflight
  dashboard,           // GET /
  stats,               // GET /stats
  stats_history,       // GET /stats/history
  metrics,             // GET /metrics
  health,              // GET /health: for load balancers, no auth, never a listener
  status_json,         // GET /status-json.xsl (Icecast's)
  admin_list_viewers,  // /admin/listclients (Icecast's XML; JSON on request)
  admin_stats,         // /admin/stats and /admin/stats.xml (Icecast's XML)
  admin_list_mounts,   // /admin/listmounts (Icecast's XML)
  admin_stream_list,   // /admin/streamlist.txt: the admin or the relay user (Icecast slaves)
  admin_kick_viewer,   // /admin/killclient
  admin_kick_source,   // /admin/killsource
  admin_metadata,      // /admin/metadata (mode=updinfo): source or admin credentials
  admin_move_viewers,  // /admin/moveclients
  admin_unknown,       // another /admin/ path: 404 listing the endpoints
  no_page,             // a reserved path with no page (/favicon.ico, /stats/x): 404
  admin_listener_only_operators,  // a stream request on the admin listener: 404
  bad_method,          // 405
};

Route route_for(Method method, std::string_view path, bool admin_listener);

// Paths no mount may take: the operators' pages and what browsers ask for by themselves.
bool is_reserved_path(std::string_view path);

// Routes behind the operators' access rule (--stats-access), and those behind the admin
// password (the admin endpoints except metadata, which a mount's source may also use).
bool is_stats_route(Route route);
bool is_admin_route(Route route);

}  // namespace ringcast::relay
