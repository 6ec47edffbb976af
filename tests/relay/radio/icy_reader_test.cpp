// Taking an origin's ICY blocks out of what an edge receives, in place, for any split of reads.
#include "ringcast/radio/icy_reader.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ringcast/http/http_response.h"

using namespace ringcast::relay;

namespace {

// metaint audio bytes, then a block (its length byte and NUL padding made here), repeated.
std::string block(const std::string& text) {
  if (text.empty()) return std::string(1, '\0');
  const std::size_t units = (text.size() + 15) / 16;
  std::string out(1, static_cast<char>(units));
  out += text;
  out.append(units * 16 - text.size(), '\0');
  return out;
}

struct Wire {
  std::string bytes;  // as the origin sends it
  std::string audio;  // what must come out
};

Wire make_wire(std::uint32_t metaint, const std::vector<std::string>& blocks) {
  Wire wire;
  char next = 'a';
  for (const auto& text : blocks) {
    for (std::uint32_t i = 0; i < metaint; ++i) {
      wire.bytes += next;
      wire.audio += next;
      next = next == 'z' ? 'a' : static_cast<char>(next + 1);
    }
    wire.bytes += block(text);
  }
  for (std::uint32_t i = 0; i < metaint / 2; ++i) {  // ends mid-interval
    wire.bytes += 'Q';
    wire.audio += 'Q';
  }
  return wire;
}

// Feeds `wire` in reads of the given sizes, each decoded in its own buffer; returns the audio.
std::string decode_in_reads(IcyReader& reader, const std::string& wire,
                            const std::vector<std::size_t>& sizes,
                            std::vector<std::string>* titles = nullptr) {
  std::string audio;
  std::size_t at = 0;
  std::size_t i = 0;
  while (at < wire.size()) {
    const std::size_t n = std::min(sizes[i++ % sizes.size()], wire.size() - at);
    std::vector<std::byte> read(n);
    std::memcpy(read.data(), wire.data() + at, n);
    const IcyReader::Result result = reader.decode(read);
    REQUIRE(result.body_bytes <= n);
    audio.append(reinterpret_cast<const char*>(read.data()), result.body_bytes);
    if (result.metadata && titles) titles->push_back(reader.title());
    at += n;
  }
  return audio;
}

}  // namespace

TEST_CASE("ICY fields: title and url, padding ignored, quotes inside a title kept", "[icy]") {
  IcyFields fields =
      parse_icy_fields(std::string("StreamTitle='Artist - Song';StreamUrl='http://x/';\0\0\0", 53));
  CHECK(fields.has_title);
  CHECK(fields.title == "Artist - Song");
  CHECK(fields.has_url);
  CHECK(fields.url == "http://x/");
  fields = parse_icy_fields("StreamTitle='Rock 'n' Roll';");
  CHECK(fields.title == "Rock 'n' Roll");
  CHECK_FALSE(fields.has_url);
  fields = parse_icy_fields("StreamTitle='no semicolon'");
  CHECK(fields.title == "no semicolon");
  CHECK_FALSE(parse_icy_fields("garbage").has_title);
  CHECK_FALSE(parse_icy_fields("XStreamTitle='a';").has_title);
  CHECK(parse_icy_fields("StreamTitle='';").has_title);  // an empty title is a title
}

TEST_CASE("the ICY reader yields the audio alone for a split at every byte", "[icy]") {
  const Wire wire =
      make_wire(7, {"StreamTitle='one';", "", "StreamTitle='two, a longer title than 16';", ""});
  for (std::size_t split = 1; split <= wire.bytes.size(); ++split) {
    INFO("split after " << split);
    IcyReader reader(7);
    std::vector<std::string> titles;
    // Two reads: everything up to `split`, then the rest.
    std::string audio;
    for (auto [from, to] :
         {std::pair<std::size_t, std::size_t>{0, split}, {split, wire.bytes.size()}}) {
      if (from == to) continue;
      audio += decode_in_reads(reader, wire.bytes.substr(from, to - from), {to - from}, &titles);
    }
    CHECK(audio == wire.audio);
    // A read that completes both blocks reports the later title once.
    REQUIRE_FALSE(titles.empty());
    CHECK(titles.back() == "two, a longer title than 16");
    CHECK(reader.title() == "two, a longer title than 16");
    CHECK(reader.blocks() == 4);
  }
}

TEST_CASE("the ICY reader, byte by byte and in random reads, against the model", "[icy]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  for (int round = 0; round < 50; ++round) {
    const std::uint32_t metaint = 1 + random() % 300;
    std::vector<std::string> blocks;
    for (int i = 0; i < 20; ++i) {
      blocks.push_back(random() % 3 == 0 ? "" : "StreamTitle='title " + std::to_string(i) + "';");
    }
    const Wire wire = make_wire(metaint, blocks);
    IcyReader bytewise(metaint);
    std::vector<std::string> titles;
    CHECK(decode_in_reads(bytewise, wire.bytes, {1}, &titles) == wire.audio);
    std::vector<std::string> expected;  // read byte by byte, every title is seen
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (!blocks[i].empty()) expected.push_back("title " + std::to_string(i));
    }
    CHECK(titles == expected);
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 16; ++i) sizes.push_back(1 + random() % 700);
    IcyReader chunks(metaint);
    CHECK(decode_in_reads(chunks, wire.bytes, sizes) == wire.audio);
    CHECK(chunks.audio_total() == wire.audio.size());
  }
}

TEST_CASE("response heads: an origin's answer, Icecast's and SHOUTcast's", "[icy]") {
  ResponseHead head;
  std::string text =
      "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint:16000\r\nicy-name: "
      "Radio\r\n\r\nBODY";
  // Incomplete at every prefix short of the blank line.
  for (std::size_t n = 0; n < text.size() - 4; ++n) {
    INFO(n);
    CHECK(parse_response_head(std::string_view(text).substr(0, n), head).status ==
          ResponseParseStatus::incomplete);
  }
  ResponseParse parse = parse_response_head(text, head);
  REQUIRE(parse.status == ResponseParseStatus::complete);
  CHECK(text.substr(parse.head_length) == "BODY");
  CHECK(head.status == 200);
  CHECK(head.header("ICY-METAINT") == "16000");
  CHECK(head.header("icy-name") == "Radio");
  CHECK_FALSE(head.header("icy-genre"));

  parse = parse_response_head("ICY 200 OK\nicy-metaint: 8192\n\n", head);
  REQUIRE(parse.status == ResponseParseStatus::complete);
  CHECK(head.icy);
  CHECK(head.status == 200);

  CHECK(parse_response_head("HTTP/1.1 404 Not Found\r\n\r\n", head).status ==
        ResponseParseStatus::complete);
  CHECK(head.status == 404);
  CHECK(head.reason == "Not Found");

  for (const char* bad :
       {"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n"}) {
    INFO(bad);
    CHECK(parse_response_head(bad, head).status == ResponseParseStatus::malformed);
  }
  CHECK(parse_response_head(std::string(20'000, 'H'), head).status ==
        ResponseParseStatus::malformed);
  const std::string long_head = "HTTP/1.1 200 OK\r\nX: " + std::string(20'000, 'a');
  CHECK(parse_response_head(long_head, head).status == ResponseParseStatus::malformed);
}
