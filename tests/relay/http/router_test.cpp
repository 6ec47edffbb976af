// The routing table and the one response builder, without sockets.
#include "ringcast/http/router.h"

#include <catch2/catch.hpp>

#include "ringcast/ops/health.h"
#include "ringcast/http/response.h"

using namespace ringcast::relay;

TEST_CASE("requests are routed by method, path and listener", "[router]") {
  CHECK(route_for(Method::get, "/live.ts", false) == Route::viewer);
  CHECK(route_for(Method::head, "/live.ts", false) == Route::viewer);
  CHECK(route_for(Method::put, "/live.ts", false) == Route::source);
  CHECK(route_for(Method::source, "/live.ts", false) == Route::source);
  CHECK(route_for(Method::options, "/anything", false) == Route::preflight);
  CHECK(route_for(Method::other, "/live.ts", false) == Route::bad_method);
  CHECK(route_for(Method::get, "/", false) == Route::dashboard);
  CHECK(route_for(Method::get, "/stats", false) == Route::stats);
  CHECK(route_for(Method::get, "/stats/history", false) == Route::stats_history);
  CHECK(route_for(Method::get, "/stats/other", false) == Route::no_page);
  CHECK(route_for(Method::get, "/metrics", false) == Route::metrics);
  CHECK(route_for(Method::get, "/health", false) == Route::health);
  // HLS by the path's shape; a source to such a path is the source handler's to refuse.
  CHECK(route_for(Method::get, "/cam.ts/index.m3u8", false) == Route::hls);
  CHECK(route_for(Method::head, "/cam.ts/42.ts", false) == Route::hls);
  CHECK(route_for(Method::get, "/cam.ts/index.m3u8", true) == Route::admin_listener_only_operators);
  CHECK(route_for(Method::put, "/cam.ts/42.ts", false) == Route::source);
  CHECK(route_for(Method::get, "/cam.ts/042.ts", false) == Route::viewer);  // not a segment name
  CHECK(route_for(Method::get, "/index.m3u8", false) == Route::viewer);     // no mount before it
  CHECK(route_for(Method::head, "/health", true) == Route::health);
  CHECK(route_for(Method::get, "/status-json.xsl", false) == Route::status_json);
  CHECK(route_for(Method::get, "/favicon.ico", false) == Route::no_page);
  CHECK(route_for(Method::get, "/admin/metadata", false) == Route::admin_metadata);
  CHECK(route_for(Method::get, "/admin/moveclients", false) == Route::admin_move_viewers);
  CHECK(route_for(Method::get, "/admin/listclients", false) == Route::admin_list_viewers);
  CHECK(route_for(Method::get, "/admin/nothing", false) == Route::admin_unknown);
  CHECK(route_for(Method::get, "/admin", false) == Route::admin_unknown);
}

TEST_CASE("the admin listener serves the operators' pages only", "[router]") {
  CHECK(route_for(Method::get, "/live.ts", true) == Route::admin_listener_only_operators);
  CHECK(route_for(Method::put, "/live.ts", true) == Route::admin_listener_only_operators);
  CHECK(route_for(Method::get, "/stats", true) == Route::stats);
  CHECK(route_for(Method::get, "/admin/metadata", true) == Route::admin_metadata);
}

TEST_CASE("no mount may take an operator's path", "[router]") {
  for (const char* path : {"/", "/stats", "/stats/x", "/metrics", "/health", "/status-json.xsl", "/favicon.ico",
                           "/admin", "/admin/metadata"}) {
    INFO(path);
    CHECK(is_reserved_path(path));
  }
  CHECK(!is_reserved_path("/live.ts"));
  CHECK(!is_reserved_path("/statistics"));
  CHECK(!is_reserved_path("/administration.mp3"));
}

TEST_CASE("every response head carries the common headers, and HEAD is GET without the body", "[router]") {
  Response response = Response::ok("application/json", "{}\n");
  response.header("X-Test", "1");
  const std::string head = render_head(response);
  CHECK(head.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(head.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(head.find("\r\nContent-Length: 3\r\n") != std::string::npos);
  CHECK(head.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(head.find("\r\nAccess-Control-Allow-Origin: *\r\n") != std::string::npos);
  CHECK(head.find("\r\nAccess-Control-Expose-Headers: icy-metaint") != std::string::npos);
  CHECK(head.find("\r\nX-Test: 1\r\n") != std::string::npos);
  CHECK(head.find("\r\nCache-Control: no-cache\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(render(response) == head + "{}\n");

  Response stream;
  stream.content_type = "audio/mpeg";
  stream.streaming = true;
  stream.header("Cache-Control", "no-cache, no-store");
  CHECK(render_head(stream).find("Content-Length") == std::string::npos);
  CHECK(render_head(stream).find("Cache-Control: no-cache\r\n") == std::string::npos);  // its own only

  CHECK(render_head(Response::text(404, "no such mount\n")).rfind("HTTP/1.0 404 Not Found\r\n", 0) == 0);
  CHECK(render_head(Response::text(501, "")).rfind("HTTP/1.0 501 Not Implemented\r\n", 0) == 0);
}

TEST_CASE("/health: ok while serving, 503 while draining or while a ready mount has no source", "[router][health]") {
  const auto live = [](std::string_view mount) { return mount == "/live.ts"; };
  CHECK(health_answer(false, {}, live).status == 200);
  CHECK(health_answer(false, {}, live).body == "ok\n");
  CHECK(health_answer(false, {"/live.ts"}, live).status == 200);
  const HealthAnswer waiting = health_answer(false, {"/live.ts", "/radio.mp3", "/talk.mp3"}, live);
  CHECK(waiting.status == 503);
  CHECK(waiting.body == "not ready: no source on /radio.mp3, /talk.mp3\n");
  // Draining wins: balancers must move new listeners away whatever the mounts do.
  CHECK(health_answer(true, {"/live.ts"}, live).status == 503);
  CHECK(health_answer(true, {}, live).body == "draining\n");
}
