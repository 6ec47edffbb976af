#include "ringcast/radio/icecast.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

using namespace ringcast::relay;

namespace {

// 2026-12-01T10:00:00Z, a Tuesday.
constexpr std::uint64_t kDecemberFirst = 1796119200000;

// The text of a block: what follows the length byte, up to the first NUL.
std::string block_text(const std::string& block) {
  return std::string(block.c_str() + 1);
}

bool all_nul_after_text(const std::string& block) {
  const std::size_t text_end = 1 + block_text(block).size();
  return block.find_first_not_of('\0', text_end) == std::string::npos;
}

MetadataUpdate parsed(std::string_view target) {
  auto result = parse_metadata_update(target);
  if (const auto* problem = std::get_if<std::string>(&result)) FAIL("problem: " << *problem);
  return std::get<MetadataUpdate>(std::move(result));
}

std::string problem_of(std::string_view target) {
  auto result = parse_metadata_update(target);
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(result);
}

IcecastServerInfo icecast_server() {
  IcecastServerInfo server;
  server.host = "localhost";
  server.server_id = "Icecast 2.4.4";
  server.server_start_unix_ms = kDecemberFirst;
  return server;
}

IcecastSource mp3_source(std::string mount) {
  IcecastSource source;
  source.listenurl = "http://localhost:8000" + mount;
  source.server_type = "audio/mpeg";
  source.stream_start_unix_ms = kDecemberFirst;
  return source;
}

}  // namespace

TEST_CASE("an empty title is Icecast's initial block: one unit, text and a NUL", "[icecast]") {
  const std::string block = icy_metadata_block("");
  CHECK(block == std::string("\x01StreamTitle='';\0", 17));
}

TEST_CASE("the length byte counts 16-byte units and always leaves room for a NUL", "[icecast]") {
  // "StreamTitle='';" is 15 bytes; the title adds to it.
  for (std::size_t title_size : {0u, 1u, 2u, 16u, 17u, 100u}) {
    const std::string title(title_size, 'a');
    const std::string block = icy_metadata_block(title);
    const std::size_t text_size = 15 + title_size;
    CAPTURE(title_size);
    CHECK(static_cast<unsigned char>(block[0]) == text_size / 16 + 1);
    CHECK(block.size() == 1 + 16 * static_cast<std::size_t>(static_cast<unsigned char>(block[0])));
    CHECK(block_text(block) == "StreamTitle='" + title + "';");
    CHECK(all_nul_after_text(block));
  }
  // A text of exactly 32 bytes gets a third unit, all NULs, as Icecast's (len-1)/16+1 gives.
  CHECK(icy_metadata_block(std::string(17, 'a')).size() == 1 + 48);
}

TEST_CASE("quotes and UTF-8 in a title are sent as they are", "[icecast]") {
  const std::string title = "Guns N' Roses - Sweet Child O' Mine \xC3\xA9\xE2\x82\xAC";
  CHECK(block_text(icy_metadata_block(title)) == "StreamTitle='" + title + "';");
}

TEST_CASE("StreamUrl follows the title only when a url is given", "[icecast]") {
  CHECK(block_text(icy_metadata_block("Song", "http://example.com/")) ==
        "StreamTitle='Song';StreamUrl='http://example.com/';");
  CHECK(block_text(icy_metadata_block("Song", "")) == "StreamTitle='Song';");
}

TEST_CASE("a title too long for a block is cut at a UTF-8 character boundary", "[icecast]") {
  // 4079 bytes of text fit; the title has 4079 - 15 = 4064 of them. "a" then three-byte
  // characters puts the 4064th byte inside a character.
  std::string title = "a";
  while (title.size() < 5000) title += "\xE2\x82\xAC";  // U+20AC
  const std::string block = icy_metadata_block(title);
  CHECK(static_cast<unsigned char>(block[0]) == 255);
  CHECK(block.size() == 1 + 255 * 16);
  const std::string text = block_text(block);
  REQUIRE(text.size() <= kIcyMetadataMaxText);
  const std::string kept = text.substr(13, text.size() - 15);
  CHECK(kept.size() == 1 + 3 * 1354);  // 4063: the last whole character before 4064
  CHECK(title.compare(0, kept.size(), kept) == 0);
  CHECK(text.substr(text.size() - 2) == "';");
  CHECK(all_nul_after_text(block));
}

TEST_CASE("a title that fits exactly is not cut", "[icecast]") {
  const std::string title(kIcyMetadataMaxText - 15, 'x');
  const std::string block = icy_metadata_block(title);
  CHECK(block_text(block) == "StreamTitle='" + title + "';");
  CHECK(block.size() == 1 + 255 * 16);
}

TEST_CASE("StreamUrl is dropped before the title is cut", "[icecast]") {
  const std::string title(4050, 't');  // fits alone, not with the url
  const std::string block = icy_metadata_block(title, "http://example.com/a-long-enough-url");
  CHECK(block_text(block) == "StreamTitle='" + title + "';");
}

TEST_CASE("updinfo with song sets the song as sent", "[icecast]") {
  const MetadataUpdate update =
      parsed("/admin/metadata?mount=/live&mode=updinfo&song=Artist+-+It%27s+%22here%22");
  CHECK(update.mount == "/live");
  CHECK(update.song == "Artist - It's \"here\"");
  CHECK(update.url.empty());
}

TEST_CASE("updinfo with artist and title composes artist - title", "[icecast]") {
  const MetadataUpdate update =
      parsed("/admin/metadata?mode=updinfo&mount=%2Flive&artist=Daft%20Punk&title=One+More+Time");
  CHECK(update.mount == "/live");
  CHECK(update.song == "Daft Punk - One More Time");
}

TEST_CASE("song wins over artist and title, and either alone is taken as is", "[icecast]") {
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&song=S&artist=A&title=T").song == "S");
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&title=T").song == "T");
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&artist=A&title=").song == "A");
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&song=").song.empty());
}

TEST_CASE("percent-encoded UTF-8 is decoded and kept", "[icecast]") {
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&song=Caf%C3%A9+%E2%82%AC").song ==
        "Caf\xC3\xA9 \xE2\x82\xAC");
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&song=Caf%C3%A9&charset=UTF-8").song ==
        "Caf\xC3\xA9");
}

TEST_CASE("ISO-8859-1 text is converted to UTF-8", "[icecast]") {
  for (const char* charset : {"ISO-8859-1", "iso8859-1", "latin1", "ISO_8859-1"}) {
    CAPTURE(charset);
    const std::string target = std::string("/admin/metadata?mount=/m&mode=updinfo&charset=") +
                               charset + "&artist=Bj%F6rk&title=J%F3ga";
    CHECK(parsed(target).song == "Bj\xC3\xB6rk - J\xC3\xB3ga");
  }
}

TEST_CASE("a mount's charset is the charset of an update that names none", "[icecast]") {
  // Icecast's <charset>: the source on this mount sends ISO-8859-1 without saying so.
  const auto latin1_mount = parse_metadata_update("/admin/metadata?mount=/m&mode=updinfo&song=Bj%F6rk",
                                                  std::string("ISO-8859-1"));
  REQUIRE(std::holds_alternative<MetadataUpdate>(latin1_mount));
  CHECK(std::get<MetadataUpdate>(latin1_mount).song == "Bj\xC3\xB6rk");
  // The request's own charset wins over the mount's.
  const auto says_utf8 = parse_metadata_update(
      "/admin/metadata?mount=/m&mode=updinfo&charset=UTF-8&song=Bj%C3%B6rk", std::string("latin1"));
  REQUIRE(std::holds_alternative<MetadataUpdate>(says_utf8));
  CHECK(std::get<MetadataUpdate>(says_utf8).song == "Bj\xC3\xB6rk");
  CHECK(is_known_charset("UTF8"));
  CHECK(is_known_charset("iso_8859-1"));
  CHECK_FALSE(is_known_charset("windows-1251"));
}

TEST_CASE("text that is not valid UTF-8 is refused", "[icecast]") {
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&song=Bj%F6rk") ==
        "song is not valid UTF-8");
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&song=%C0%AF") ==
        "song is not valid UTF-8");  // an overlong '/'
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&song=%ED%A0%80") ==
        "song is not valid UTF-8");  // a surrogate
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&song=%E2%82") ==
        "song is not valid UTF-8");  // cut mid-character
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&title=T&artist=%FF") ==
        "artist is not valid UTF-8");
}

TEST_CASE("another charset is accepted only when the bytes are UTF-8 already", "[icecast]") {
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&charset=windows-1251&song=%C3%A9").song ==
        "\xC3\xA9");
  const std::string problem =
      problem_of("/admin/metadata?mount=/m&mode=updinfo&charset=windows-1251&song=%E9");
  CHECK_THAT(problem, Catch::Contains("windows-1251"));
}

TEST_CASE("control characters are stripped from the title", "[icecast]") {
  CHECK(parsed("/admin/metadata?mount=/m&mode=updinfo&song=One%0D%0ATwo%09Three%7F").song ==
        "OneTwoThree");
}

TEST_CASE("updinfo takes a url for StreamUrl", "[icecast]") {
  CHECK(
      parsed("/admin/metadata?mount=/m&mode=updinfo&song=S&url=http%3A%2F%2Fexample.com%2F").url ==
      "http://example.com/");
}

TEST_CASE("requests that are not a complete updinfo are refused with the reason", "[icecast]") {
  CHECK(problem_of("/admin/metadata?mode=updinfo&song=S") == "missing parameter: mount");
  CHECK(problem_of("/admin/metadata?mount=&mode=updinfo&song=S") == "missing parameter: mount");
  CHECK(problem_of("/admin/metadata?mount=/m&song=S") == "missing parameter: mode");
  CHECK_THAT(problem_of("/admin/metadata?mount=/m&mode=stats&song=S"),
             Catch::StartsWith("no such action"));
  CHECK_THAT(problem_of("/admin/metadata?mount=/m&mode=updinfo"),
             Catch::StartsWith("nothing to set"));
  CHECK(problem_of("/admin/metadata?mount=/m&mode=updinfo&song=100%") ==
        "badly percent-encoded parameter: song");
  CHECK(problem_of("/admin/metadata") == "missing parameter: mount");
}

TEST_CASE("the admin answers are Icecast's bytes", "[icecast]") {
  CHECK(icecast_admin_success("Metadata update successful") ==
        "<?xml version=\"1.0\"?>\n<iceresponse><message>Metadata update successful</message>"
        "<return>1</return></iceresponse>\n");
  CHECK(icecast_admin_failure("No such action") ==
        "<?xml version=\"1.0\"?>\n<iceresponse><message>No such action</message>"
        "<return>0</return></iceresponse>\n");
}

TEST_CASE("the admin message is XML-escaped as libxml2 escapes text", "[icecast]") {
  // Checked against libxml2 2.9.14's xmlDocDumpMemory of a document without an encoding.
  CHECK(icecast_admin_failure("a<b>&\"'c\r \xC3\xA9\t\n") ==
        "<?xml version=\"1.0\"?>\n<iceresponse><message>a&lt;b&gt;&amp;\"'c&#xD; &#xE9;\t\n"
        "</message><return>0</return></iceresponse>\n");
  CHECK(icecast_admin_failure("x\x01y\xFFz") ==
        "<?xml version=\"1.0\"?>\n<iceresponse><message>xy&#xFFFD;z</message>"
        "<return>0</return></iceresponse>\n");
}

TEST_CASE("Icecast's time formats, in UTC", "[icecast]") {
  CHECK(icecast_time(kDecemberFirst) == "Tue, 01 Dec 2026 10:00:00 +0000");
  CHECK(icecast_time_iso8601(kDecemberFirst) == "2026-12-01T10:00:00+0000");
  CHECK(icecast_time(1709164805999) == "Thu, 29 Feb 2024 00:00:05 +0000");
  CHECK(icecast_time_iso8601(1709164805999) == "2024-02-29T00:00:05+0000");
  CHECK(icecast_time(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST_CASE("status-json without sources has no source key", "[icecast]") {
  const auto json = nlohmann::json::parse(render_status_json(icecast_server(), {}));
  const auto& icestats = json.at("icestats");
  CHECK(icestats.size() == 6);
  CHECK_FALSE(icestats.contains("source"));
  CHECK(icestats.at("admin") == "icemaster@localhost");
  CHECK(icestats.at("host") == "localhost");
  CHECK(icestats.at("location") == "Earth");
  CHECK(icestats.at("server_id") == "Icecast 2.4.4");
  CHECK(icestats.at("server_start") == "Tue, 01 Dec 2026 10:00:00 +0000");
  CHECK(icestats.at("server_start_iso8601") == "2026-12-01T10:00:00+0000");
}

TEST_CASE("status-json with one source is Icecast 2.4.4's output byte for byte", "[icecast]") {
  IcecastSource source = mp3_source("/m");
  source.bitrate = 128;
  source.title = "a \"q\" \\ \xC3\xA9\t/x<";
  // What Icecast 2.4.4's web/status-json.xsl gives (libxslt 1.1.35) for the same stats, less
  // the "dummy":null artefact of its hiding templates.
  CHECK(
      render_status_json(icecast_server(), {source}) ==
      R"({"icestats":{"admin":"icemaster@localhost","host":"localhost","location":"Earth",)"
      R"("server_id":"Icecast 2.4.4","server_start":"Tue, 01 Dec 2026 10:00:00 +0000",)"
      R"("server_start_iso8601":"2026-12-01T10:00:00+0000","source":{"bitrate":128,)"
      R"("genre":"various","listener_peak":0,"listeners":0,"listenurl":"http://localhost:8000/m",)"
      R"("server_description":"Unspecified description","server_name":"Unspecified name",)"
      R"("server_type":"audio/mpeg","stream_start":"Tue, 01 Dec 2026 10:00:00 +0000",)"
      R"("stream_start_iso8601":"2026-12-01T10:00:00+0000","title":"a \"q\" \\ )"
      "\xC3\xA9"
      R"(\t/x<"}}})");
}

TEST_CASE("status-json with one source makes source an object with typed fields", "[icecast]") {
  IcecastSource source = mp3_source("/live");
  source.listeners = 3;
  source.listener_peak = 7;
  source.server_name = "1999";  // Icecast's xsl would make this a number; it stays text
  source.server_description = "Live";
  source.genre = "Jazz";
  source.title = "true";
  source.server_url = "http://example.com/";
  source.artist = "Artist";
  const auto json = nlohmann::json::parse(render_status_json(icecast_server(), {source}));
  const auto& object = json.at("icestats").at("source");
  REQUIRE(object.is_object());
  CHECK(object.at("listeners").is_number_unsigned());
  CHECK(object.at("listeners") == 3);
  CHECK(object.at("listener_peak") == 7);
  CHECK(object.at("listenurl") == "http://localhost:8000/live");
  CHECK(object.at("server_name") == "1999");
  CHECK(object.at("server_description") == "Live");
  CHECK(object.at("server_type") == "audio/mpeg");
  CHECK(object.at("genre") == "Jazz");
  CHECK(object.at("title") == "true");
  CHECK(object.at("server_url") == "http://example.com/");
  CHECK(object.at("artist") == "Artist");
  CHECK(object.at("stream_start") == "Tue, 01 Dec 2026 10:00:00 +0000");
  CHECK(object.at("stream_start_iso8601") == "2026-12-01T10:00:00+0000");
  CHECK_FALSE(object.contains("bitrate"));
  CHECK_FALSE(object.contains("dummy"));
}

TEST_CASE("status-json omits what a source never gave and fills Icecast's defaults", "[icecast]") {
  IcecastSource source = mp3_source("/m");
  source.artist = "";
  const auto json = nlohmann::json::parse(render_status_json(icecast_server(), {source}));
  const auto& object = json.at("icestats").at("source");
  CHECK(object.at("server_name") == "Unspecified name");
  CHECK(object.at("server_description") == "Unspecified description");
  CHECK(object.at("genre") == "various");
  for (const char* absent : {"title", "artist", "server_url", "bitrate"}) {
    CAPTURE(absent);
    CHECK_FALSE(object.contains(absent));
  }
}

TEST_CASE("status-json with two sources makes source an array in the given order", "[icecast]") {
  IcecastSource first = mp3_source("/a");
  first.bitrate = 128;
  IcecastSource second = mp3_source("/b");
  second.server_type = "video/mp2t";
  second.listeners = 2;
  const auto json = nlohmann::json::parse(render_status_json(icecast_server(), {first, second}));
  const auto& list = json.at("icestats").at("source");
  REQUIRE(list.is_array());
  REQUIRE(list.size() == 2);
  CHECK(list[0].at("listenurl") == "http://localhost:8000/a");
  CHECK(list[0].at("bitrate").is_number_unsigned());
  CHECK(list[0].at("bitrate") == 128);
  CHECK(list[1].at("listenurl") == "http://localhost:8000/b");
  CHECK(list[1].at("server_type") == "video/mp2t");
  CHECK(list[1].at("listeners") == 2);
  CHECK_FALSE(list[1].contains("bitrate"));
}

TEST_CASE("status-json survives invalid UTF-8 from a source's headers", "[icecast]") {
  IcecastSource source = mp3_source("/m");
  source.server_name = "bad \xFF name";
  const auto json = nlohmann::json::parse(render_status_json(icecast_server(), {source}));
  CHECK(json.at("icestats").at("source").at("server_name") == "bad \xEF\xBF\xBD name");
}
