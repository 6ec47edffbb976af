// The routing table (router.h).
#include "ringcast/http/router.h"

#include <array>
#include <utility>

#include "ringcast/video/hls.h"

namespace ringcast::relay {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

constexpr std::array<std::pair<std::string_view, Route>, 7> kPages{{
    {"/", Route::dashboard},
    {"/stats", Route::stats},
    {"/stats/history", Route::stats_history},
    {"/metrics", Route::metrics},
    {"/health", Route::health},
    {"/status-json.xsl", Route::status_json},
    {"/favicon.ico", Route::no_page},
}};

constexpr std::array<std::pair<std::string_view, Route>, 9> kAdmin{{
    {"/admin/listclients", Route::admin_list_viewers},
    {"/admin/stats", Route::admin_stats},
    {"/admin/stats.xml", Route::admin_stats},
    {"/admin/listmounts", Route::admin_list_mounts},
    {"/admin/streamlist.txt", Route::admin_stream_list},
    {"/admin/killclient", Route::admin_kick_viewer},
    {"/admin/killsource", Route::admin_kick_source},
    {"/admin/metadata", Route::admin_metadata},
    {"/admin/moveclients", Route::admin_move_viewers},
}};

// A page or an admin endpoint; `viewer` when the path is a mount's.
Route operator_route(std::string_view path) {
  for (const auto& [page, route] : kPages) {
    if (path == page) return route;
  }
  if (path == "/admin" || starts_with(path, "/admin/")) {
    for (const auto& [page, route] : kAdmin) {
      if (path == page) return route;
    }
    return Route::admin_unknown;
  }
  if (starts_with(path, "/stats/")) return Route::no_page;
  return Route::viewer;
}

}  // namespace

Route route_for(Method method, std::string_view path, bool admin_listener) {
  if (method == Method::options) return Route::preflight;
  const Route page = operator_route(path);
  switch (method) {
    case Method::get:
    case Method::head:
      if (page == Route::viewer && admin_listener) return Route::admin_listener_only_operators;
      // By shape alone: no mount may take an HLS-shaped name (docs/protocol.md, "Paths").
      if (page == Route::viewer && parse_hls_path(path)) return Route::hls;
      return page;
    case Method::put:
    case Method::source:
      if (admin_listener) return Route::admin_listener_only_operators;
      return Route::source;  // a reserved path is refused by the source's handler (400)
    case Method::options:
    case Method::other:
      break;
  }
  return Route::bad_method;
}

bool is_reserved_path(std::string_view path) { return operator_route(path) != Route::viewer; }

bool is_stats_route(Route route) {
  return route == Route::dashboard || route == Route::stats || route == Route::stats_history ||
         route == Route::metrics || route == Route::status_json;
}

bool is_admin_route(Route route) {
  return route == Route::admin_list_viewers || route == Route::admin_stats ||
         route == Route::admin_list_mounts || route == Route::admin_kick_viewer ||
         route == Route::admin_kick_source || route == Route::admin_move_viewers ||
         route == Route::admin_unknown;
}

}  // namespace ringcast::relay
