// libFuzzer target for what renders peer text: any bytes as every peer-controlled field of a
// mount (content type, ice-* headers, title, URL, user agent, the Host a client names), stored
// as the relay stores them (PeerText), then rendered as status-json, as a JSON document like
// /stats and /admin/listclients (nlohmann's strict dump, which throws on invalid UTF-8), as an
// ICY metadata block and as Icecast's XML answers. Checks: nothing throws, JSON parses back to
// the same text, the XML carries no markup from the peer, the ICY block has its fixed shape.
//
// Input: fields separated by 0xFF 0x00 (so any byte, 0xFF and 0x00 included, can appear inside a
// field), in the order of kFields; missing fields are empty.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/http/peer_text.h"

namespace {

using ringcast::relay::IcecastServerInfo;
using ringcast::relay::IcecastSource;
using ringcast::relay::PeerText;

enum Field { content_type, name, description, genre, url, title, song_query, user_agent, host, kFields };

std::vector<std::string> split_fields(std::string_view data) {
  std::vector<std::string> fields(kFields);
  std::size_t field = 0;
  for (std::size_t i = 0; i < data.size() && field < kFields; ++i) {
    if (data[i] == '\xFF' && i + 1 < data.size() && data[i + 1] == '\0') {
      ++field;
      ++i;
      continue;
    }
    fields[field] += data[i];
  }
  return fields;
}

void check_peer_text(const PeerText& text, std::size_t limit) {
  FUZZ_CHECK(ringcast::relay::utf8::is_valid(text.str()), "not UTF-8 (%zu bytes)", text.str().size());
  FUZZ_CHECK(text.str().size() <= limit, "%zu bytes over a limit of %zu", text.str().size(), limit);
  for (char c : text.str()) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte >= 0x20 && byte != 0x7F, "control character 0x%02x kept", byte);
  }
  FUZZ_CHECK(PeerText::from(text.str(), limit) == text, "sanitising twice changed the text");
}

std::string percent_encoded(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0F];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> raw =
      split_fields(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<PeerText> stored;
  for (const std::string& field : raw) {
    stored.push_back(PeerText::from(field));
    check_peer_text(stored.back(), PeerText::kDefaultLimit);
  }

  // status-json, as the relay fills it from a mount's stored metadata.
  IcecastServerInfo server;
  server.host = stored[host].str();
  IcecastSource source;
  source.listenurl = "http://" + stored[host].str() + "/m";
  source.server_type = stored[content_type].str();
  source.server_name = stored[name].str();
  source.server_description = stored[description].str();
  source.genre = stored[genre].str();
  source.server_url = stored[url].str();
  source.title = stored[title].str();
  const std::string status = ringcast::relay::render_status_json(server, {source, source});
  const nlohmann::json parsed = nlohmann::json::parse(status);  // throws (a crash) when invalid
  FUZZ_CHECK(parsed["icestats"]["source"][0]["listenurl"] == source.listenurl, "listenurl changed");
  if (!source.title.empty()) {
    FUZZ_CHECK(parsed["icestats"]["source"][1]["title"] == source.title, "title changed");
  }

  // /stats and /admin/listclients: nlohmann with its default, strict dump.
  nlohmann::json doc = {{"content_type", stored[content_type].str()}, {"title", stored[title].str()},
                        {"user_agent", stored[user_agent].str()}};
  for (const PeerText& text : stored) doc["fields"].push_back(text.str());
  const std::string dumped = doc.dump(2);
  FUZZ_CHECK(nlohmann::json::parse(dumped) == doc, "the JSON did not read back the same");

  // A title set through updinfo, from any bytes, with and without a charset.
  for (std::string_view charset : {"", "&charset=ISO-8859-1", "&charset=UTF-8"}) {
    const std::string target = "/admin/metadata?mount=/m&mode=updinfo&song=" + percent_encoded(raw[song_query]) +
                               "&url=" + percent_encoded(raw[url]) + std::string(charset);
    const auto update = ringcast::relay::parse_metadata_update(target);
    if (const auto* problem = std::get_if<std::string>(&update)) {
      // The refusal itself is XML with the reason as text: no markup of the peer's in it.
      const std::string xml = ringcast::relay::icecast_admin_failure(*problem);
      const std::size_t open = xml.find("<message>") + 9;
      const std::size_t close = xml.find("</message>");
      FUZZ_CHECK(close != std::string::npos && close >= open, "no message element");
      const std::string_view message = std::string_view(xml).substr(open, close - open);
      FUZZ_CHECK(message.find('<') == std::string_view::npos, "a '<' in the message text");
      FUZZ_CHECK(ringcast::relay::utf8::is_valid(xml), "the XML answer is not UTF-8");
      continue;
    }
    const auto& song = std::get<ringcast::relay::MetadataUpdate>(update);
    check_peer_text(song.song, ringcast::relay::kMaxTitleBytes);
    check_peer_text(song.url, ringcast::relay::kMaxTitleBytes);
    const std::string block = ringcast::relay::icy_metadata_block(song.song.str(), song.url.str());
    const auto units = static_cast<unsigned char>(block[0]);
    FUZZ_CHECK(block.size() == 1 + 16u * units && units > 0, "ICY block of %zu bytes, length byte %u",
               block.size(), units);
    FUZZ_CHECK(block.compare(1, 13, "StreamTitle='") == 0, "ICY block does not start with StreamTitle");
    FUZZ_CHECK(block.back() == '\0', "ICY block not NUL-padded");
  }
  return 0;
}
