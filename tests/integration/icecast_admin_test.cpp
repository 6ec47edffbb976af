// Icecast's admin API as radio automation reads it, over the real binary: the requests and the
// XPath expressions of AzuraCast's Icecast now-playing adapter (/admin/stats,
// /icestats/source[@mount], listclients' listener elements), LibreTime's playout stats
// (/admin/stats.xml, source@mount, listeners) and Icecast slaves (/admin/streamlist.txt with the
// relay user). The documents' exact shape is compared with Icecast 2.4.4's in
// tests/relay/icecast_admin_test.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "harness.h"

using namespace ringcast::integration;

namespace {

constexpr std::string_view kAdmin = "adminpw";
constexpr std::string_view kRelay = "relaypw";

Response get(std::uint16_t port, const std::string& target, const std::string& user = "admin",
             std::string_view password = kAdmin, const std::string& extra = {}) {
  return http_exchange(port, "GET " + target + " HTTP/1.0\r\nAuthorization: " + basic_auth(user, password) +
                                 "\r\n" + extra + "\r\n");
}

// Listener ids name their worker loop, so the list's order is not the order of arrival.
std::vector<std::string> sorted(std::vector<std::string> texts) {
  std::sort(texts.begin(), texts.end());
  return texts;
}

std::string only(const std::vector<std::string>& texts) {
  REQUIRE(texts.size() == 1);
  return texts.front();
}

}  // namespace

TEST_CASE("radio automation reads ringcast's Icecast admin documents as it reads Icecast's", "[icecast_admin]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-admin-api-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "ringcast.toml";
  std::ofstream(config) << "admin_password = \"adminpw\"\nrelay_password = \"relaypw\"\n"
                        << "[mounts.\"/hidden.mp3\"]\nhidden = true\n";
  RelayProcess relay({"--config", config.string()});

  SourceOptions radio;
  radio.mount = "/radio.mp3";
  radio.content_type = "audio/mpeg";
  radio.extra_headers = {"ice-name: Example FM", "ice-bitrate: 128", "ice-genre: Jazz", "ice-public: 0",
                         "ice-description: An example", "ice-url: http://example.org"};
  SourceConnection radio_source = connect_source(relay.port(), radio);
  SourceOptions hidden = radio;
  hidden.mount = "/hidden.mp3";
  hidden.extra_headers = {};
  SourceConnection hidden_source = connect_source(relay.port(), hidden);
  send_all(radio_source.socket, pattern(0, 10 * kPacketBytes), Clock::now() + 10s);
  const std::string update = "/admin/metadata?mount=/radio.mp3&mode=updinfo&song=Artist+One+-+Song+One";
  REQUIRE(get(relay.port(), update, "source", kPassword).head.status == 200);
  std::vector<Socket> listeners;
  for (int i = 0; i < 2; ++i) {
    Socket socket = connect_loopback(relay.port());
    send_all(socket, "GET /radio.mp3 HTTP/1.0\r\nUser-Agent: ExamplePlayer/" + std::to_string(i) + "\r\n\r\n",
             Clock::now() + 10s);
    REQUIRE(read_response_head(socket, Clock::now() + 10s).status == 200);
    listeners.push_back(std::move(socket));
  }

  SECTION("AzuraCast: /admin/stats, /icestats/source[@mount]") {
    const Response stats = get(relay.port(), "/admin/stats");
    REQUIRE(stats.head.status == 200);
    CHECK(stats.head.header("Content-Type") == "text/xml; charset=utf-8");
    CHECK(stats.body.starts_with("<?xml version=\"1.0\"?>\n<icestats>"));
    // The admin sees every live mount, hidden ones too (Icecast's admin does).
    CHECK(xpath_texts(stats.body, "/icestats/source[@mount]/@mount") ==
          std::vector<std::string>{"/hidden.mp3", "/radio.mp3"});
    const std::string source = "/icestats/source[@mount='/radio.mp3']";
    CHECK(only(xpath_texts(stats.body, source + "/listeners")) == "2");
    CHECK(only(xpath_texts(stats.body, source + "/title")) == "Artist One - Song One");
    CHECK(only(xpath_texts(stats.body, source + "/bitrate")) == "128");
    CHECK(only(xpath_texts(stats.body, source + "/server_type")) == "audio/mpeg");
    CHECK(only(xpath_texts(stats.body, source + "/server_name")) == "Example FM");
    CHECK(only(xpath_texts(stats.body, source + "/genre")) == "Jazz");
    CHECK(only(xpath_texts(stats.body, source + "/user_agent")) == "ringcast-integration-tests");
    CHECK(only(xpath_texts(stats.body, source + "/listenurl")).ends_with("/radio.mp3"));
    CHECK(only(xpath_texts(stats.body, "/icestats/sources")) == "2");
    CHECK(only(xpath_texts(stats.body, "/icestats/listeners")) == "2");
    // ?mount= narrows to one source, the globals stay.
    const Response one = get(relay.port(), "/admin/stats?mount=/radio.mp3");
    CHECK(xpath_texts(one.body, "/icestats/source/@mount") == std::vector<std::string>{"/radio.mp3"});
    CHECK(only(xpath_texts(one.body, "/icestats/server_id")).starts_with("ringcast"));
    CHECK(get(relay.port(), "/admin/stats?mount=/nothing.mp3").head.status == 400);
  }

  SECTION("AzuraCast: /admin/listclients, source/listener/{ID,IP,UserAgent,Connected}") {
    const Response list = get(relay.port(), "/admin/listclients?mount=/radio.mp3");
    REQUIRE(list.head.status == 200);
    CHECK(list.head.header("Content-Type") == "text/xml; charset=utf-8");
    const std::string listener = "/icestats/source[@mount='/radio.mp3']/listener";
    CHECK(sorted(xpath_texts(list.body, listener + "/UserAgent")) ==
          std::vector<std::string>{"ExamplePlayer/0", "ExamplePlayer/1"});
    CHECK(xpath_texts(list.body, listener + "/IP") == std::vector<std::string>{"127.0.0.1", "127.0.0.1"});
    CHECK(xpath_texts(list.body, listener + "/ID").size() == 2);
    CHECK(xpath_texts(list.body, listener + "/Connected").size() == 2);
    CHECK(only(xpath_texts(list.body, "/icestats/source/Listeners")) == "2");
    // JSON on request, as before.
    const Response json = get(relay.port(), "/admin/listclients?mount=/radio.mp3", "admin", kAdmin,
                              "Accept: application/json\r\n");
    CHECK(nlohmann::json::parse(json.body).at("viewers").size() == 2);
    const nlohmann::json by_format =
        nlohmann::json::parse(get(relay.port(), "/admin/listclients?mount=/radio.mp3&format=json").body);
    std::vector<std::string> agents;
    for (const auto& viewer : by_format.at("viewers")) agents.push_back(viewer.at("user_agent"));
    CHECK(sorted(agents) == std::vector<std::string>{"ExamplePlayer/0", "ExamplePlayer/1"});
  }

  SECTION("LibreTime: /admin/stats.xml, source@mount and listeners") {
    const Response stats = get(relay.port(), "/admin/stats.xml");
    REQUIRE(stats.head.status == 200);
    CHECK(only(xpath_texts(stats.body, "/icestats/source[@mount='/radio.mp3']/listeners")) == "2");
  }

  SECTION("/admin/listmounts") {
    const Response mounts = get(relay.port(), "/admin/listmounts");
    REQUIRE(mounts.head.status == 200);
    CHECK(xpath_texts(mounts.body, "/icestats/source/@mount") == std::vector<std::string>{"/hidden.mp3", "/radio.mp3"});
    CHECK(xpath_texts(mounts.body, "/icestats/source/content-type") ==
          std::vector<std::string>{"audio/mpeg", "audio/mpeg"});
  }

  SECTION("Icecast slaves: /admin/streamlist.txt with the relay user, hidden mounts left out") {
    const Response list = get(relay.port(), "/admin/streamlist.txt", "relay", kRelay);
    REQUIRE(list.head.status == 200);
    CHECK(list.head.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(list.body == "/radio.mp3\r\n");
    CHECK(get(relay.port(), "/admin/streamlist.txt").body == "/radio.mp3\r\n");  // the admin may too
    CHECK(get(relay.port(), "/admin/streamlist.txt", "relay", "wrong").head.status == 401);
    // The relay user is no admin.
    CHECK(get(relay.port(), "/admin/stats", "relay", kRelay).head.status == 401);
  }

  SECTION("Icecast's realm on every challenge") {
    const Response refused = http_exchange(relay.port(), "GET /admin/stats HTTP/1.0\r\n\r\n");
    CHECK(refused.head.status == 401);
    CHECK(refused.head.header("WWW-Authenticate") == "Basic realm=\"Icecast2 Server\"");
    const Response source = http_exchange(relay.port(), "PUT /x.mp3 HTTP/1.0\r\n\r\n");
    CHECK(source.head.header("WWW-Authenticate") == "Basic realm=\"Icecast2 Server\"");
  }
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ringcast runs an icecast.xml as it is: its passwords, mounts and limits apply, and what it "
          "leaves out is said at start with its line",
          "[icecast_admin][icecast_config]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-icecast-xml-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "icecast.xml";
  std::ofstream(config) << "<icecast>\n"
                           "  <location>Lab</location>\n"
                           "  <authentication>\n"
                           "    <source-password>hackme</source-password>\n"
                           "    <admin-user>boss</admin-user>\n"
                           "    <admin-password>boss-secret</admin-password>\n"
                           "  </authentication>\n"
                           "  <mount type=\"normal\">\n"
                           "    <mount-name>/radio.mp3</mount-name>\n"
                           "    <password>radio-secret</password>\n"
                           "    <max-listeners>1</max-listeners>\n"
                           "    <fallback-mount>/auto.mp3</fallback-mount>\n"
                           "    <fallback-when-full>1</fallback-when-full>\n"
                           "    <stream-name>Lab Radio</stream-name>\n"
                           "    <genre>Jazz</genre>\n"
                           "    <charset>ISO-8859-1</charset>\n"
                           "  </mount>\n"
                           "  <mount type=\"normal\">\n"
                           "    <mount-name>/auto.mp3</mount-name>\n"
                           "    <max-listeners>1</max-listeners>\n"
                           "  </mount>\n"
                           "  <shoutcast-mount>/x</shoutcast-mount>\n"
                           "</icecast>\n";
  RelayProcess relay({"--icecast-config", config.string()});
  CHECK(relay.log().find("icecast.xml:22: <shoutcast-mount> is not supported") != std::string::npos);

  SourceOptions wrong;
  wrong.mount = "/radio.mp3";
  wrong.content_type = "audio/mpeg";
  CHECK(http_exchange(relay.port(), source_request_head(wrong)).head.status == 401);  // the relay-wide one
  SourceOptions radio = wrong;
  radio.password = "radio-secret";
  radio.extra_headers = {"ice-name: what the encoder says", "ice-genre: Pop"};
  SourceConnection source = connect_source(relay.port(), radio);
  SourceOptions autodj = wrong;
  autodj.mount = "/auto.mp3";
  autodj.password = "hackme";
  SourceConnection auto_source = connect_source(relay.port(), autodj);
  Viewer::Options options;
  options.contiguous = false;
  Viewer listener(relay.port(), "/radio.mp3", options);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/radio.mp3").at("viewers") == 1; }, 10s));
  send_all(source.socket, pattern(0, 100 * kPacketBytes), Clock::now() + 10s);
  CHECK(wait_until([&] { return listener.received() == 100 * kPacketBytes; }, 10s));
  // <max-listeners>1 and <fallback-when-full>: the next listener hears /auto.mp3, until that is
  // full too.
  Viewer overflow(relay.port(), "/radio.mp3", options);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/auto.mp3").at("viewers") == 1; }, 10s));
  CHECK(mount_stats(relay.port(), "/radio.mp3").at("viewers") == 1);
  send_all(auto_source.socket, pattern(0, 10 * kPacketBytes), Clock::now() + 10s);
  CHECK(wait_until([&] { return overflow.received() == 10 * kPacketBytes; }, 10s));
  CHECK(http_exchange(relay.port(), "GET /radio.mp3 HTTP/1.0\r\n\r\n").head.status == 503);
  // <charset>: an update that names no charset is ISO-8859-1 on this mount.
  const Response update = get(relay.port(), "/admin/metadata?mount=/radio.mp3&mode=updinfo&song=Caf%E9",
                              "boss", "boss-secret");
  CHECK(update.head.status == 200);
  CHECK(mount_stats(relay.port(), "/radio.mp3").at("title") == "Caf\xC3\xA9");
  const Response stats = get(relay.port(), "/admin/stats", "boss", "boss-secret");
  REQUIRE(stats.head.status == 200);
  CHECK(only(xpath_texts(stats.body, "/icestats/location")) == "Lab");
  CHECK(only(xpath_texts(stats.body, "/icestats/source[@mount='/radio.mp3']/server_name")) == "Lab Radio");
  CHECK(only(xpath_texts(stats.body, "/icestats/source[@mount='/radio.mp3']/genre")) == "Jazz");
  CHECK(get(relay.port(), "/admin/stats", "admin", "boss-secret").head.status == 401);
  listener.hang_up();
  overflow.hang_up();
  // <stream-name> and <genre> in place of the encoder's, to listeners as on the status pages.
  CHECK(listener.response().header("icy-name") == "Lab Radio");
  CHECK(listener.response().header("icy-genre") == "Jazz");
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

namespace {

// sed 's|<tag>[^<]*</tag>|<tag>value</tag>|g', as LibreTime's icecast image edits its config.
std::string xml_edit(std::string xml, const std::string& tag, const std::string& value) {
  return std::regex_replace(xml, std::regex("<" + tag + ">[^<]*</" + tag + ">"),
                            "<" + tag + ">" + value + "</" + tag + ">");
}

struct IcecastXmlCase {
  const char* name;
  const char* fixture;
  const char* source_mount;
  const char* source_password;
  const char* listener_mount;  // a mount without listener authentication
};

}  // namespace

TEST_CASE("each icecast.xml users have starts the relay: its source pushes, a listener plays, the "
          "access log goes to its logdir",
          "[icecast_config]") {
  const IcecastXmlCase c = GENERATE(
      IcecastXmlCase{"Debian's default", "debian-default.xml", "/stream", "hackme", "/stream"},
      IcecastXmlCase{"LibreTime's image", "debian-default.xml", "/stream", "lt-source", "/stream"},
      IcecastXmlCase{"AzuraCast-style", "azuracast-style.xml", "/fallback-radio.mp3", "fallback-secret",
                     "/fallback-radio.mp3"},
      IcecastXmlCase{"every element", "every-element.xml", "/live.mp3", "live-secret", "/auto.mp3"});
  INFO(c.name);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ringcast-icecast-xml-run-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::stringstream read;
  read << std::ifstream(std::string(RINGCAST_ICECAST_XML_FIXTURES) + "/" + c.fixture).rdbuf();
  std::string xml = read.str();
  REQUIRE_FALSE(xml.empty());
  xml = xml_edit(xml, "logdir", dir.string());
  if (std::string(c.name) == "LibreTime's image") {
    xml = xml_edit(xml_edit(xml_edit(xml, "errorlog", "-"), "source-password", "lt-source"), "admin-password",
                   "lt-admin");
  }
  const auto users = dir / "listeners";
  std::ofstream(users) << "alice:5f4dcc3b5aa765d61d8327deb882cf99\n";
  xml = std::regex_replace(xml, std::regex("/etc/icecast2/listeners"), users.string());
  const auto config = dir / "icecast.xml";
  std::ofstream(config) << xml;

  {
    // --log-level info: the harness waits for the "listening on" line, which AzuraCast's
    // <loglevel>2 (warnings) would hide.
    RelayProcess relay({"--icecast-config", config.string(), "--log-level", "info"});
    SourceOptions options;
    options.mount = c.source_mount;
    options.content_type = "audio/mpeg";
    options.password = c.source_password;
    SourceConnection source = connect_source(relay.port(), options);
    std::optional<SourceConnection> other;
    if (std::string(c.source_mount) != c.listener_mount) {
      // The listener's mount has the relay-wide source password.
      options.mount = c.listener_mount;
      options.password = "every-source";
      other = connect_source(relay.port(), options);
    }
    SourceConnection& feeding = other ? *other : source;
    Viewer::Options viewer_options;
    viewer_options.contiguous = false;
    Viewer listener(relay.port(), c.listener_mount, viewer_options);
    REQUIRE(wait_until([&] { return mount_stats(relay.port(), c.listener_mount).at("viewers") == 1; }, 10s));
    send_all(feeding.socket, pattern(0, 20 * kPacketBytes), Clock::now() + 10s);
    CHECK(wait_until([&] { return listener.received() == 20 * kPacketBytes; }, 10s));
    listener.hang_up();
    REQUIRE(relay.stop() == 0);
  }
  // <logdir> and <accesslog>: the listener's line is in the access log there.
  const auto access_log = std::filesystem::exists(dir / "access.log") ? dir / "access.log"
                                                                         : dir / "icecast_access.log";
  std::stringstream log;
  log << std::ifstream(access_log).rdbuf();
  CHECK(log.str().find(std::string("GET ") + c.listener_mount) != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a malformed icecast.xml starts nothing and says where", "[icecast_config]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-bad-xml-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "icecast.xml";
  std::ofstream(config) << "<icecast>\n  <limits>\n    <clients>5</limits>\n</icecast>\n";
  // The relay exits before it listens; its stderr names the line.
  CHECK_THROWS_WITH(RelayProcess({"--icecast-config", config.string()}),
                    Catch::Contains("icecast.xml:3: not well-formed XML"));
  std::filesystem::remove_all(dir);
}
