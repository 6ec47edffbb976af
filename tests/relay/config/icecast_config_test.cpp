// icecast.xml to TOML: the configs Icecast users have (Debian's default, one shaped as
// AzuraCast generates them, one with every supported element) convert, load as ringcast
// configs, and list what they leave out with its line; broken ones start nothing.
#include <catch2/catch.hpp>

#include <regex>

#include "fixtures.h"
#include "ringcast/config/config_file.h"
#include "ringcast/config/icecast_config.h"

using namespace ringcast::relay;

namespace {

std::string fixture(const std::string& name) { return read_fixture("icecast-xml/" + name); }

// Converts `xml` (which must have no errors) and reads the TOML into `config`.
IcecastConversion converted_into(std::string_view xml, RelayConfig& config) {
  IcecastConversion converted = convert_icecast_config(xml);
  REQUIRE(converted.errors.empty());
  REQUIRE(parse_config_text(converted.toml, "converted", config).empty());
  return converted;
}

// Converted and loaded; the config and what was left out.
struct Loaded {
  RelayConfig config;
  std::vector<ConfigProblem> left_out;
};
Loaded load(const std::string& xml) {
  const IcecastConversion converted = convert_icecast_config(xml);
  INFO(converted.toml);
  REQUIRE(converted.errors.empty());
  Loaded loaded;
  const auto problems = parse_config_text(converted.toml, "converted.toml", loaded.config);
  for (const auto& problem : problems) UNSCOPED_INFO(problem.line << ": " << problem.message);
  REQUIRE(problems.empty());
  loaded.left_out = converted.unsupported;
  return loaded;
}

bool left_out(const Loaded& loaded, std::uint32_t line, std::string_view element) {
  for (const auto& note : loaded.left_out) {
    if (note.line == line && note.message.find(element) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("Debian's default icecast.xml runs as it is", "[icecast_config]") {
  const Loaded loaded = load(fixture("debian-default.xml"));
  const RelayConfig& c = loaded.config;
  CHECK(c.listen_host == "0.0.0.0");
  CHECK(c.listen_port == 8000);
  CHECK(c.source_password == "hackme");
  CHECK(c.admin_password == "hackme");
  CHECK(c.relay_password == "hackme");
  CHECK(c.max_connections == 100);
  CHECK(c.max_mounts == 2);
  CHECK(c.fanout.burst_bytes == 65535);
  CHECK(c.fanout.max_lag_bytes == 524288);
  CHECK(c.head_timeout_ms == 15'000);
  CHECK(c.source_idle_timeout_ms == 10'000);
  CHECK(c.location == "Earth");
  CHECK(c.access_log == "/var/log/icecast2/access.log");
  CHECK(c.log_level == "info");
  // Said once each, at the element's line, never dropped silently.
  CHECK(left_out(loaded, 64, "<hostname>"));
  CHECK(left_out(loaded, 93, "<http-headers>"));
  CHECK(left_out(loaded, 190, "<fileserve>"));
  CHECK(loaded.left_out.size() == 5);
}

TEST_CASE("an icecast.xml as LibreTime's Icecast image generates it runs", "[icecast_config]") {
  // LibreTime's icecast image (libretime/icecast-docker) ships Icecast's own default config with
  // <errorlog>-</errorlog>, and its entrypoint rewrites elements from the environment with
  // sed 's|<tag>[^<]*</tag>|<tag>value</tag>|g': done here the same way to Debian's default.
  std::string xml = fixture("debian-default.xml");
  for (const auto& [tag, value] : std::vector<std::pair<std::string, std::string>>{
           {"errorlog", "-"}, {"source-password", "lt-source"}, {"relay-password", "lt-relay"},
           {"admin-password", "lt-admin"}, {"admin-user", "ltadmin"}, {"admin", "ops@example.org"},
           {"location", "Studio"}, {"hostname", "radio.example.org"}, {"clients", "500"}, {"sources", "4"}}) {
    xml = std::regex_replace(xml, std::regex("<" + tag + ">[^<]*</" + tag + ">"), "<" + tag + ">" + value + "</" + tag + ">");
  }
  const Loaded loaded = load(xml);
  const RelayConfig& c = loaded.config;
  CHECK(c.source_password == "lt-source");
  CHECK(c.relay_password == "lt-relay");
  CHECK(c.admin_password == "lt-admin");
  CHECK(c.admin_user == "ltadmin");
  CHECK(c.admin_contact == "ops@example.org");
  CHECK(c.location == "Studio");
  CHECK(c.max_connections == 500);
  CHECK(c.max_mounts == 4);
  CHECK(c.listen_port == 8000);
  CHECK(left_out(loaded, 64, "<hostname>"));
  CHECK(left_out(loaded, 223, "<logging/errorlog>"));
}

TEST_CASE("an icecast.xml as AzuraCast generates it runs, mounts, url authentication and all", "[icecast_config]") {
  const Loaded loaded = load(fixture("azuracast-style.xml"));
  const RelayConfig& c = loaded.config;
  CHECK(c.source_password == "src-secret");
  CHECK(c.admin_password == "admin-secret");
  CHECK(c.log_level == "warn");
  REQUIRE(c.mounts.count("/radio.mp3") == 1);
  const MountSettings& radio = c.mounts.at("/radio.mp3");
  CHECK(radio.fallback_mount == "/fallback-radio.mp3");
  CHECK(radio.fallback_override);
  CHECK(radio.listener_add_url == "http://127.0.0.1/api/internal/1/listener-auth");
  CHECK(radio.mount_add_url == "http://127.0.0.1/api/internal/1/notify");
  REQUIRE(c.mounts.count("/fallback-radio.mp3") == 1);
  CHECK(c.mounts.at("/fallback-radio.mp3").source_password == "fallback-secret");
  CHECK(c.mounts.at("/fallback-radio.mp3").hidden == true);
  // What the station is called, whatever the source says; UTF8 is Icecast's spelling.
  CHECK(radio.charset == "UTF8");
  CHECK(radio.stream_name == "Example Station");
  CHECK(radio.stream_description == "An example");
  CHECK(radio.stream_url == "https://example.com");
  CHECK(radio.stream_genre == "Various");
  CHECK(radio.stream_bitrate == 128u);
  CHECK(radio.stream_public == false);
  // <x-forwarded-for>: the proxy whose X-Forwarded-For is believed.
  CHECK(c.trusted_proxies == std::vector<std::string>{"127.0.0.1"});
}

TEST_CASE("every supported element of an icecast.xml has its ringcast key", "[icecast_config]") {
  const IcecastConversion converted = convert_icecast_config(fixture("every-element.xml"));
  REQUIRE(converted.errors.empty());
  RelayConfig c;
  // The users file it names does not exist here: that is the only problem.
  const auto problems = parse_config_text(converted.toml, "converted.toml", c);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("/etc/icecast2/listeners") != std::string::npos);
  std::string toml = converted.toml;
  toml.replace(toml.find("listener_users_file = \"/etc/icecast2/listeners\"\n"),
               std::string("listener_users_file = \"/etc/icecast2/listeners\"\n").size(), "");
  REQUIRE(parse_config_text(toml, "converted.toml", c).empty());
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 8123);
  CHECK(c.admin_user == "boss");
  CHECK(c.relay_user == "slave");
  CHECK(c.relay_password == "every-relay");
  CHECK(c.viewer_stall_timeout_ms == 25'000);
  CHECK(c.log_level == "debug");
  CHECK(c.access_log == "/var/log/ringcast/access.log");
  const MountSettings& live = c.mounts.at("/live.mp3");
  CHECK(live.source_password == "live-secret");
  CHECK(live.max_viewers == 50u);
  CHECK(live.burst_bytes == 16384u);
  CHECK(live.icy_metaint == 8192u);
  CHECK(live.fallback_mount == "/auto.mp3");
  CHECK(live.fallback_when_full);
  CHECK(live.stream_name == "Live Café");
  CHECK(live.stream_description == "Every element");
  CHECK(live.stream_url == "https://live.example.com/");
  CHECK(live.stream_genre == "Jazz");
  CHECK(live.stream_bitrate == 128u);
  CHECK(live.stream_public == true);
  CHECK(live.charset == "ISO-8859-1");
  CHECK(live.ice_overrides() == std::vector<std::pair<std::string, std::string>>{
                                   {"ice-name", "Live Café"},
                                   {"ice-description", "Every element"},
                                   {"ice-url", "https://live.example.com/"},
                                   {"ice-genre", "Jazz"},
                                   {"ice-bitrate", "128"},
                                   {"ice-public", "1"}});
  CHECK_FALSE(c.mounts.at("/auto.mp3").max_viewers.has_value());  // -1: unlimited
  CHECK(c.mounts.at("/auto.mp3").hidden == true);
  // The relay, with its credentials and its own local name.
  REQUIRE(c.relays.size() == 1);
  CHECK(c.relays[0].url == "http://relay:relay-secret@127.0.0.1:8001/upstream.mp3");
  CHECK(c.relays[0].mount == "/relayed.mp3");
  CHECK(c.relays[0].on_demand);
  // The second socket is listed, with its line.
  REQUIRE(converted.unsupported.size() == 1);
  CHECK(converted.unsupported[0].line == 24);
}

TEST_CASE("Icecast's relays: <relay> entries, <relays-on-demand> as their default", "[icecast_config]") {
  const auto converted = convert_icecast_config(
      "<icecast>\n<relays-on-demand>1</relays-on-demand>\n"
      "<relay><server>origin</server><port>8000</port><mount>/a.mp3</mount></relay>\n"
      "<relay><server>origin</server><mount>/b.ogg</mount><on-demand>0</on-demand>\n"
      "  <relay-shoutcast-metadata>0</relay-shoutcast-metadata></relay>\n"
      "<relay><mount>/c.mp3</mount></relay>\n"
      "<master-server>origin</master-server>\n</icecast>\n");
  REQUIRE(converted.errors.size() == 1);
  CHECK(converted.errors[0].line == 6);
  CHECK(converted.errors[0].message == "<relay> needs a <server> and a <mount>");
  RelayConfig c;
  const auto good = converted_into(
      "<icecast>\n<relays-on-demand>1</relays-on-demand>\n"
      "<relay><server>origin</server><port>8000</port><mount>/a.mp3</mount></relay>\n"
      "<relay><server>origin</server><mount>/b.ogg</mount><on-demand>0</on-demand>\n"
      "  <relay-shoutcast-metadata>0</relay-shoutcast-metadata></relay>\n</icecast>\n",
      c);
  REQUIRE(c.relays.size() == 2);
  CHECK(c.relays[0].url == "http://origin:8000/a.mp3");
  CHECK(c.relays[0].mount == "/a.mp3");
  CHECK(c.relays[0].on_demand);
  CHECK(c.relays[1].url == "http://origin:8000/b.ogg");  // Icecast's default port
  CHECK_FALSE(c.relays[1].on_demand);
  REQUIRE(good.unsupported.size() == 1);
  CHECK(good.unsupported[0].message.find("relay-shoutcast-metadata") != std::string::npos);
}

TEST_CASE("Icecast's master settings become [master], with Icecast's defaults", "[icecast_config]") {
  RelayConfig c;
  converted_into("<icecast>\n<master-server>10.0.0.1</master-server>\n<master-password>relay-pw</master-password>\n"
                 "<relays-on-demand>1</relays-on-demand>\n</icecast>\n",
                 c);
  REQUIRE(c.master);
  CHECK(c.master->url == "http://relay:relay-pw@10.0.0.1:8000");
  CHECK(c.master->update_interval_ms == 120'000);
  CHECK(c.master->on_demand);

  RelayConfig d;
  const auto every = converted_into(
      "<icecast>\n<master-server>m</master-server><master-server-port>8100</master-server-port>\n"
      "<master-username>slave</master-username><master-password>pw</master-password>\n"
      "<master-update-interval>5</master-update-interval>\n<master-ssl-port>8443</master-ssl-port>\n</icecast>\n",
      d);
  CHECK(d.master->url == "http://slave:pw@m:8100");
  CHECK(d.master->update_interval_ms == 5'000);
  CHECK_FALSE(d.master->on_demand);
  REQUIRE(every.unsupported.size() == 1);
  CHECK(every.unsupported[0].line == 5);
}

TEST_CASE("a broken or refused icecast.xml starts nothing and says where", "[icecast_config]") {
  const auto malformed = convert_icecast_config("<icecast>\n  <limits>\n    <clients>5</limits>\n</icecast>\n");
  REQUIRE(malformed.errors.size() == 1);
  CHECK(malformed.errors[0].line == 3);
  CHECK(malformed.errors[0].message.find("not well-formed XML") == 0);
  CHECK(malformed.toml.empty());

  const auto wrong_root = convert_icecast_config("<ezstream></ezstream>");
  REQUIRE(wrong_root.errors.size() == 1);
  CHECK(wrong_root.errors[0].message.find("<icecast>") != std::string::npos);

  const auto ssl = convert_icecast_config(
      "<icecast>\n<listen-socket><port>8000</port></listen-socket>\n"
      "<listen-socket>\n<port>8443</port><ssl>1</ssl></listen-socket>\n</icecast>");
  REQUIRE(ssl.errors.size() == 1);
  CHECK(ssl.errors[0].line == 3);
  CHECK(ssl.errors[0].message.find("TLS") != std::string::npos);

  const auto not_a_number = convert_icecast_config("<icecast><limits><clients>many</clients></limits></icecast>");
  REQUIRE(not_a_number.errors.size() == 1);
  CHECK(not_a_number.errors[0].message.find("<clients>") != std::string::npos);
}

TEST_CASE("TOML written for peer values is TOML whatever the value holds", "[icecast_config]") {
  const Loaded loaded = load("<icecast><location>a \"quoted\" \\ place</location><authentication>"
                             "<source-password>p\"w</source-password></authentication></icecast>");
  CHECK(loaded.config.location == "a \"quoted\" \\ place");
  CHECK(loaded.config.source_password == "p\"w");
}

TEST_CASE("a config file that is XML is read as an icecast.xml", "[icecast_config]") {
  CHECK(looks_like_xml("  \n<?xml version=\"1.0\"?><icecast/>"));
  CHECK(looks_like_xml("<icecast/>"));
  CHECK_FALSE(looks_like_xml("listen = \"127.0.0.1:8000\"\n"));
  CHECK_FALSE(looks_like_xml(""));
}
