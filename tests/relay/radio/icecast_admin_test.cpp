// Icecast's admin documents, byte for byte against what Icecast 2.4.4 answered for the same
// state (fixtures/icecast-2.4.4, captured from Debian's icecast2; its README names the state).
#include <catch2/catch.hpp>

#include "fixtures.h"
#include "ringcast/radio/icecast_admin.h"

using namespace ringcast::relay;

namespace {

// The fixture's body: everything after its first line (the request, status and type).
std::string fixture(const std::string& name) {
  const std::string text = read_fixture("icecast-2.4.4/" + name);
  return text.substr(text.find('\n') + 1);
}

constexpr std::uint64_t kServerStart = 1796590533000;  // Sun, 06 Dec 2026 20:55:33 +0000
constexpr std::uint64_t kStreamStart = 1796591607000;  // Sun, 06 Dec 2026 21:13:27 +0000

IcecastGlobals fixture_globals() {
  IcecastGlobals globals;
  globals.server.admin = "admin@localhost";
  globals.server.host = "127.0.0.1";
  globals.server.location = "test";
  globals.server.server_id = "Icecast 2.4.4";
  globals.server.server_start_unix_ms = kServerStart;
  globals.client_connections = 34;
  globals.clients = 4;
  globals.connections = 44;
  globals.listener_connections = 14;
  globals.listeners = 2;
  globals.source_client_connections = 10;
  globals.sources = 2;
  return globals;
}

std::vector<IcecastAdminSource> fixture_sources() {
  IcecastAdminSource radio;
  radio.mount = "/radio.mp3";
  radio.source.listenurl = "http://127.0.0.1:19850/radio.mp3";
  radio.source.listeners = 2;
  radio.source.listener_peak = 2;
  radio.source.server_name = "Example FM";
  radio.source.server_description = "An example";
  radio.source.server_type = "audio/mpeg";
  radio.source.genre = "Jazz";
  radio.source.title = "Artist One - Song One";
  radio.source.server_url = "http://example.org";
  radio.source.bitrate = 128;
  radio.source.stream_start_unix_ms = kStreamStart;
  radio.source_ip = "127.0.0.1";
  radio.user_agent = "liquidsoap/2.1.3";
  radio.connected_seconds = 3;
  IcecastAdminSource other;
  other.mount = "/other.aac";
  other.source.listenurl = "http://127.0.0.1:19850/other.aac";
  other.source.server_type = "audio/aac";
  other.source.stream_start_unix_ms = kStreamStart;
  other.source_ip = "127.0.0.1";
  other.connected_seconds = 3;
  return {radio, other};  // out of order: the document sorts them
}

}  // namespace

TEST_CASE("/admin/stats is Icecast 2.4.4's document for the same state, byte for byte", "[icecast_admin]") {
  CHECK(render_admin_stats(fixture_globals(), fixture_sources()) == fixture("admin-stats.xml"));
  CHECK(render_admin_stats(fixture_globals(), {fixture_sources()[0]}) == fixture("admin-stats-mount.xml"));
}

TEST_CASE("/admin/listmounts is Icecast 2.4.4's document, byte for byte", "[icecast_admin]") {
  CHECK(render_admin_listmounts(fixture_sources()) == fixture("admin-listmounts.xml"));
  CHECK(fixture("admin-listmounts.xml") == fixture("admin-listmounts-with-listeners.xml"));
}

TEST_CASE("/admin/listclients is Icecast 2.4.4's document, byte for byte", "[icecast_admin]") {
  const std::vector<IcecastListener> listeners = {{42, "127.0.0.1", "ExamplePlayer/0", 2},
                                                  {43, "127.0.0.1", "ExamplePlayer/1", 2}};
  CHECK(render_admin_listclients("/radio.mp3", listeners) == fixture("admin-listclients.xml"));
}

TEST_CASE("/admin/streamlist.txt lists one mount per line, sorted", "[icecast_admin]") {
  CHECK(render_streamlist({"/radio.mp3", "/other.aac"}) == fixture("admin-streamlist.txt"));
  CHECK(render_streamlist({}).empty());
}

TEST_CASE("admin documents escape peer text as XML and carry non-ASCII as character references",
          "[icecast_admin]") {
  std::vector<IcecastAdminSource> sources = fixture_sources();
  sources[0].source.title = "Rock & <Roll> \"caf\xC3\xA9\" \xF0\x9F\x8E\xB5";
  const std::string xml = render_admin_stats(fixture_globals(), sources);
  CHECK(xml.find("<title>Rock &amp; &lt;Roll&gt; \"caf&#xE9;\" &#x1F3B5;</title>") != std::string::npos);
  const std::vector<IcecastListener> listeners = {{1, "::1", "a<b>&c", 0}};
  CHECK(render_admin_listclients("/m", listeners).find("<UserAgent>a&lt;b&gt;&amp;c</UserAgent>") !=
        std::string::npos);
}
