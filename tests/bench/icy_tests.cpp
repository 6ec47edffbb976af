// The viewer's ICY demuxer and icy-metaint scanner: blocks come out whole at any split, the
// stream bytes reach the verifier byte-exact, and malformed blocks are counted.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "icy_demuxer.h"
#include "payload.h"
#include "stream_verifier.h"

using namespace ringcast::bench;

namespace {

// A block as a relay sends it: length byte, text, NULs to a multiple of 16. "" is a 0 byte.
std::vector<std::uint8_t> block(const std::string& text) {
  const std::size_t length = (text.size() + 15) / 16;
  std::vector<std::uint8_t> bytes(1 + 16 * length, 0);
  bytes[0] = static_cast<std::uint8_t>(length);
  std::copy(text.begin(), text.end(), bytes.begin() + 1);
  return bytes;
}

std::string title(std::uint32_t n) {
  return "StreamTitle='bench title " + std::to_string(n) + "';";
}

// Records [0, count) with a block after every `metaint` stream bytes: block k is the title
// k / 3 + 1 when k % 3 == 0, else unchanged. Returns the wire bytes and the block count.
struct Wire {
  std::vector<std::uint8_t> bytes;
  std::size_t blocks = 0;
  std::size_t titles = 0;
  std::uint32_t last_title = 0;
};
Wire make_wire(std::size_t records, std::uint32_t metaint) {
  std::vector<std::uint8_t> stream(records * kRecordSize);
  RecordWriter writer(0, 0);
  writer.fill(stream, 1000);
  Wire wire;
  for (std::size_t at = 0; at < stream.size(); at += metaint) {
    const std::size_t end = std::min<std::size_t>(at + metaint, stream.size());
    wire.bytes.insert(wire.bytes.end(), stream.begin() + at, stream.begin() + end);
    if (end - at < metaint) break;  // no block after a partial interval
    const bool change = wire.blocks % 3 == 0;
    if (change) {
      wire.last_title = static_cast<std::uint32_t>(wire.blocks / 3 + 1);
      ++wire.titles;
    }
    const auto b = block(change ? title(wire.last_title) : "");
    wire.bytes.insert(wire.bytes.end(), b.begin(), b.end());
    ++wire.blocks;
  }
  return wire;
}

// Every read through the demuxer into the verifier, as ViewerPool does.
void feed(IcyDemuxer& icy, StreamVerifier& verifier, std::span<const std::uint8_t> read) {
  while (!read.empty()) {
    const auto stream = icy.next(read);
    if (!stream.empty()) verifier.feed(stream, 2000, nullptr);
  }
}

// The counts after feeding one block's wire bytes (after a full interval of stream bytes).
IcyDemuxer after_one_block(const std::vector<std::uint8_t>& bytes) {
  std::vector<std::uint8_t> wire(16, 0xAA);
  wire.insert(wire.end(), bytes.begin(), bytes.end());
  IcyDemuxer icy(16);
  std::span<const std::uint8_t> rest(wire);
  while (!rest.empty()) icy.next(rest);
  return icy;
}

}  // namespace

TEST_CASE("a stream with ICY blocks verifies byte-exact whatever the read sizes") {
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  for (std::uint32_t metaint : {1u, 187u, 333u, 2000u, 16000u}) {
    INFO("metaint " << metaint);
    const Wire wire = make_wire(600, metaint);
    IcyDemuxer icy(metaint);
    StreamVerifier verifier;
    std::uniform_int_distribution<std::size_t> piece(1, 3000);
    std::span<const std::uint8_t> rest(wire.bytes);
    while (!rest.empty()) {
      const std::size_t n = std::min(rest.size(), piece(rng));
      feed(icy, verifier, rest.first(n));
      rest = rest.subspan(n);
    }
    CHECK(verifier.counts().records_ok == 600);
    CHECK(verifier.counts().records_corrupt == 0);
    CHECK(verifier.counts().bytes_discarded_at_join == 0);
    CHECK(icy.counts().blocks == wire.blocks);
    CHECK(icy.counts().titles == wire.titles);
    CHECK(icy.counts().bad_blocks == 0);
    CHECK(icy.last_bench_title() == wire.last_title);
  }
}

TEST_CASE("a title block split at any byte comes out whole") {
  const Wire wire = make_wire(20, 1000);  // 3 blocks: title 1, then unchanged twice
  for (std::size_t cut = 0; cut <= wire.bytes.size(); ++cut) {
    IcyDemuxer icy(1000);
    StreamVerifier verifier;
    feed(icy, verifier, std::span(wire.bytes).first(cut));
    feed(icy, verifier, std::span(wire.bytes).subspan(cut));
    INFO("cut at " << cut);
    REQUIRE(verifier.counts().records_ok == 20);
    REQUIRE(verifier.counts().records_corrupt == 0);
    REQUIRE(icy.counts().blocks == 3);
    REQUIRE(icy.counts().titles == 1);
    REQUIRE(icy.last_bench_title() == 1);
  }
}

TEST_CASE("a stream read one byte at a time loses nothing") {
  const Wire wire = make_wire(30, 256);
  IcyDemuxer icy(256);
  StreamVerifier verifier;
  for (std::size_t i = 0; i < wire.bytes.size(); ++i) {
    feed(icy, verifier, std::span(wire.bytes).subspan(i, 1));
  }
  CHECK(verifier.counts().records_ok == 30);
  CHECK(icy.counts().blocks == wire.blocks);
  CHECK(icy.last_bench_title() == wire.last_title);
}

TEST_CASE("blocks that are not a StreamTitle are malformed") {
  for (const char* text : {"StreamUrl='x';", "streamtitle='bench title 1';", "StreamTitle=",
                           "StreamTitle='bench title 3", "StreamTitle='bench title 3'"}) {
    INFO(text);
    const IcyDemuxer icy = after_one_block(block(text));
    CHECK(icy.counts().blocks == 1);
    CHECK(icy.counts().titles == 1);
    CHECK(icy.counts().bad_blocks == 1);
    CHECK(icy.last_bench_title() == 0);
  }
  // A length byte with NULs only: not a title either.
  const IcyDemuxer padding = after_one_block({1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(padding.counts().bad_blocks == 1);
}

TEST_CASE("a title that is not the bench's is a title without a number") {
  for (const char* text :
       {"StreamTitle='';", "StreamTitle='bench title ';", "StreamTitle='bench title 12x';",
        "StreamTitle='it''s bench title 4';", "StreamTitle='Bench title 4';"}) {
    INFO(text);
    const IcyDemuxer icy = after_one_block(block(text));
    CHECK(icy.counts().titles == 1);
    CHECK(icy.counts().bad_blocks == 0);
    CHECK(icy.last_bench_title() == 0);
  }
  const IcyDemuxer url = after_one_block(block("StreamTitle='bench title 42';StreamUrl='u';"));
  CHECK(url.counts().bad_blocks == 0);
  CHECK(url.last_bench_title() == 42);
  // An unchanged block after a title keeps it: 0 means "no change".
  auto wire = block(title(7));
  wire.insert(wire.end(), 16, 0xAA);
  wire.push_back(0);
  const IcyDemuxer kept = after_one_block(wire);
  CHECK(kept.counts().blocks == 2);
  CHECK(kept.counts().titles == 1);
  CHECK(kept.last_bench_title() == 7);
}

TEST_CASE("icy-metaint is found in a response head, and nothing else is taken for it") {
  const auto scan = [](const std::string& head) {
    MetaintScanner scanner;
    for (char c : head) scanner.feed(c);
    return scanner.metaint();
  };
  CHECK(scan("HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 16000\r\n\r\n") ==
        16000u);
  CHECK(scan("HTTP/1.0 200 OK\r\nIcy-MetaInt:8192\r\n\r\n") == 8192u);
  CHECK(scan("HTTP/1.0 200 OK\r\nicy-metaint:\t 2000 \r\n\r\n") == 2000u);
  CHECK(scan("HTTP/1.0 200 OK\r\nicy-metaint: 100\r\nicy-metaint: 200\r\n\r\n") == 100u);
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nx-icy-metaint: 16000\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nicy-metaint-x: 16000\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nicy-metaint: 16 000\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nicy-metaint: 0\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nicy-metaint: 99999999999\r\n\r\n"));
  CHECK_FALSE(scan("HTTP/1.0 200 OK\r\nicy-metaint: -5\r\n\r\n"));
}
