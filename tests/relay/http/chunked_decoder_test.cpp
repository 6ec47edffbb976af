// The chunked decoder against a model: a random body is framed by a small encoder, fed in reads
// split anywhere, decoded in place as the source's receive path does in the ring, and the
// committed bytes must be the body exactly. Broken framing must stop at the fault.
#include "ringcast/http/chunked_decoder.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "allocation_counter.h"

using namespace ringcast::relay;
using Status = ChunkedDecoder::Status;

namespace {

constexpr std::byte kSentinel{0xee};
constexpr std::size_t kGuard = 16;

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out(text.size());
  if (!text.empty()) std::memcpy(out.data(), text.data(), text.size());
  return out;
}

std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// How the model frames a body.
struct Framing {
  bool extensions = false;  // "; name=value" after some sizes, with whitespace before the ';'
  bool trailers = false;    // trailer fields after the last chunk
  bool bare_lf = false;     // some lines end in LF alone
};

struct Message {
  std::vector<std::byte> wire;  // what the source sends
  std::vector<std::byte> body;  // what the relay must commit
};

// The model encoder: a chunk per size (none of them 0), then the last chunk.
Message encode(std::mt19937_64& random, const std::vector<std::size_t>& sizes, Framing framing) {
  Message m;
  auto put = [&](std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    m.wire.insert(m.wire.end(), p, p + text.size());
  };
  auto line_end = [&] { put(framing.bare_lf && random() % 3 == 0 ? "\n" : "\r\n"); };
  auto extension = [&] {
    if (!framing.extensions || random() % 2 == 0) return;
    static constexpr std::string_view kExtensions[] = {
        ";a", "; name=value", " ;x=1", "\t; q=\"quoted; with ; separators\"", ";a=1;b;c=\"\""};
    put(kExtensions[random() % std::size(kExtensions)]);
  };
  char hex[32];
  for (const std::size_t size : sizes) {
    REQUIRE(size > 0);
    const int zeros = random() % 4 == 0 ? static_cast<int>(random() % 4) : 0;
    std::snprintf(hex, sizeof hex, random() % 2 ? "%0*zx" : "%0*zX",
                  zeros + static_cast<int>(std::snprintf(nullptr, 0, "%zx", size)), size);
    put(hex);
    extension();
    line_end();
    for (std::size_t i = 0; i < size; ++i) {
      const auto b = static_cast<std::byte>(random());
      m.wire.push_back(b);
      m.body.push_back(b);
    }
    line_end();
  }
  put("0");
  extension();
  line_end();
  if (framing.trailers) {
    put("Checksum: 4b1d");
    line_end();
    put("X-Stream-End: yes");
    line_end();
  }
  line_end();
  return m;
}

struct Decoded {
  std::vector<std::byte> committed;
  Status status = Status::more;
  std::string error;
};

// What the source's receive path does: each read lands at the ring's head and is decoded there;
// only its body is committed, so the next read lands right after the body. `reads` are the read
// sizes; the rest of `wire` is one more read. Every call must stay within its span.
Decoded feed(ChunkedDecoder& decoder, std::span<const std::byte> wire,
             std::vector<std::size_t> reads) {
  std::vector<std::byte> ring(wire.size() + kGuard, kSentinel);
  std::size_t head = 0;
  std::size_t offset = 0;
  std::size_t total = 0;
  bool final = false;
  Status last = Status::more;
  std::size_t sum = 0;
  for (const std::size_t n : reads) sum += n;
  REQUIRE(sum <= wire.size());
  reads.push_back(wire.size() - sum);
  for (const std::size_t n : reads) {
    if (n > 0) std::memcpy(ring.data() + head, wire.data() + offset, n);
    std::fill_n(ring.begin() + static_cast<std::ptrdiff_t>(head + n), kGuard, kSentinel);
    const auto result = decoder.decode(std::span(ring.data() + head, n));
    REQUIRE(result.body_bytes <= n);
    const auto guard = ring.begin() + static_cast<std::ptrdiff_t>(head + n);
    REQUIRE(std::all_of(guard, guard + kGuard, [](std::byte b) { return b == kSentinel; }));
    if (final) {  // once done or malformed, the verdict stays and no body follows
      REQUIRE(result.status == last);
      REQUIRE(result.body_bytes == 0);
    }
    final = result.status != Status::more;
    last = result.status;
    head += result.body_bytes;
    offset += n;
    total += result.body_bytes;
  }
  REQUIRE(decoder.body_total() == total);
  REQUIRE(decoder.status() == last);
  return {std::vector<std::byte>(ring.begin(), ring.begin() + static_cast<std::ptrdiff_t>(head)),
          last, std::string(decoder.error())};
}

// Every split of `wire` into two reads, and into one-byte reads, gives the same outcome.
void require_same_for_every_split(std::string_view wire, Status status, std::string_view body,
                                  std::string_view error_part = {}) {
  const auto bytes = bytes_of(wire);
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    CAPTURE(split);
    ChunkedDecoder decoder;
    const Decoded d = feed(decoder, bytes, {split});
    REQUIRE(d.status == status);
    REQUIRE(text_of(d.committed) == body);
    if (status == Status::malformed) {
      REQUIRE(d.error.find(error_part) != std::string::npos);
    } else {
      REQUIRE(d.error.empty());
    }
  }
  ChunkedDecoder decoder;
  const Decoded d = feed(decoder, bytes, std::vector<std::size_t>(wire.size(), 1));
  REQUIRE(d.status == status);
  REQUIRE(text_of(d.committed) == body);
}

}  // namespace

TEST_CASE("a chunked body split into two reads at every byte decodes to the body", "[chunked]") {
  const auto framing = GENERATE(Framing{false, false, false}, Framing{true, true, false},
                                Framing{true, true, true}, Framing{false, true, true});
  CAPTURE(framing.extensions, framing.trailers, framing.bare_lf);
  std::mt19937_64 random(7);
  const Message m = encode(random, {1, 2, 15, 16, 17, 255, 3}, framing);
  for (std::size_t split = 0; split <= m.wire.size(); ++split) {
    CAPTURE(split);
    ChunkedDecoder decoder;
    const Decoded d = feed(decoder, m.wire, {split});
    REQUIRE(d.status == Status::done);
    REQUIRE(d.committed == m.body);
  }
  SECTION("and in reads of one byte") {
    ChunkedDecoder decoder;
    const Decoded d = feed(decoder, m.wire, std::vector<std::size_t>(m.wire.size(), 1));
    REQUIRE(d.status == Status::done);
    REQUIRE(d.committed == m.body);
  }
}

TEST_CASE("a large chunked body in random reads decodes to the body", "[chunked]") {
  const std::uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 random(seed);
  for (int round = 0; round < 8; ++round) {
    CAPTURE(round);
    std::vector<std::size_t> sizes(1 + random() % 40);
    for (auto& size : sizes) {
      // Mostly small chunks, so that framing often straddles reads; some up to 70,000 bytes.
      size = random() % 4 == 0 ? 1 + random() % 70'000 : 1 + random() % 300;
    }
    const Framing framing{random() % 2 == 0, random() % 2 == 0, random() % 2 == 0};
    const Message m = encode(random, sizes, framing);
    std::vector<std::size_t> reads;
    for (std::size_t fed = 0; fed < m.wire.size();) {
      // Tiny reads (a trickling source), empty ones, and up to the relay's 64 KiB reads.
      const std::size_t kind = random() % 8;
      std::size_t n = kind == 0 ? 0 : kind < 4 ? 1 + random() % 8 : 1 + random() % 65'536;
      n = std::min(n, m.wire.size() - fed);
      reads.push_back(n);
      fed += n;
    }
    ChunkedDecoder decoder;
    const Decoded d = feed(decoder, m.wire, reads);
    REQUIRE(d.status == Status::done);
    REQUIRE(d.committed.size() == m.body.size());
    REQUIRE(d.committed == m.body);
  }
}

TEST_CASE("bare LF line endings are accepted wherever CRLF is", "[chunked]") {
  require_same_for_every_split("3\nabc\n2;x=y\nde\r\n1\r\nf\n0\nTrailer: 1\n\n", Status::done,
                               "abcdef");
}

TEST_CASE("chunk extensions and whitespace before them are skipped", "[chunked]") {
  require_same_for_every_split(
      "4 ;name=value\r\nWiki\r\n5\t \t; a=\"quoted;\\\"x\" ;b\r\npedia\r\nE \r\n in\r\n\r\nchunks."
      "\r\n0; last=1\r\n\r\n",
      Status::done, "Wikipedia in\r\n\r\nchunks.");
}

TEST_CASE("the last chunk's trailer section ends the body", "[chunked]") {
  SECTION("without trailer fields") {
    require_same_for_every_split("2\r\nhi\r\n0\r\n\r\n", Status::done, "hi");
  }
  SECTION("with trailer fields, which are skipped") {
    require_same_for_every_split("2\r\nhi\r\n000\r\nExpires: never\r\nX-A: b\r\n\r\n", Status::done,
                                 "hi");
  }
  SECTION("without the empty line, it is not over yet") {
    require_same_for_every_split("2\r\nhi\r\n0\r\nX-A: b\r\n", Status::more, "hi");
  }
}

TEST_CASE("bytes after the last chunk are not body", "[chunked]") {
  require_same_for_every_split("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n5\r\nhello\r\n",
                               Status::done, "abc");
  ChunkedDecoder decoder;
  auto wire = bytes_of("1\r\nx\r\n0\r\n\r\n");
  REQUIRE(decoder.decode(wire).status == Status::done);
  auto more = bytes_of("5\r\nhello\r\n");
  const auto after = decoder.decode(more);
  CHECK(after.status == Status::done);
  CHECK(after.body_bytes == 0);
  CHECK(text_of(more) == "5\r\nhello\r\n");  // untouched
  CHECK(decoder.body_total() == 1);
}

TEST_CASE("an empty read decodes nothing and changes nothing", "[chunked]") {
  ChunkedDecoder decoder;
  const auto empty = [&] { return decoder.decode(std::span<std::byte>()); };
  CHECK(empty().body_bytes == 0);
  CHECK(decoder.status() == Status::more);

  auto part = bytes_of("5\r\nhel");
  const auto first = decoder.decode(part);
  CHECK(first.body_bytes == 3);
  CHECK(text_of(std::span(part).first(3)) == "hel");
  const auto mid = empty();
  CHECK(mid.body_bytes == 0);
  CHECK(mid.status == Status::more);

  auto rest = bytes_of("lo\r\n0\r\n\r\n");
  const auto second = decoder.decode(rest);
  CHECK(second.body_bytes == 2);
  CHECK(second.status == Status::done);
  CHECK(empty().status == Status::done);
  CHECK(decoder.body_total() == 5);
}

TEST_CASE("broken framing is malformed, with the body before the fault", "[chunked]") {
  SECTION("a size line without digits") {
    require_same_for_every_split("3\r\nabc\r\n\r\n", Status::malformed, "abc", "no digits");
    require_same_for_every_split(";ext\r\n", Status::malformed, "", "no digits");
    require_same_for_every_split(" 5\r\nhello\r\n", Status::malformed, "", "no digits");
  }
  SECTION("a bad hex digit in the size") {
    require_same_for_every_split("5\r\nhello\r\n1g\r\nx\r\n", Status::malformed, "hello",
                                 "bad hex digit");
    require_same_for_every_split("0x10\r\n", Status::malformed, "", "bad hex digit");
    require_same_for_every_split("-1\r\n", Status::malformed, "", "bad hex digit");
  }
  SECTION("garbage where the next size line belongs") {
    require_same_for_every_split("3\r\nabc\r\nxyz\r\n", Status::malformed, "abc", "bad hex digit");
  }
  SECTION("whitespace inside the size") {
    require_same_for_every_split("1 2\r\nx", Status::malformed, "", "bad character");
  }
  SECTION("a size line longer than 1024 bytes") {
    const std::string padded = "3\r\nabc\r\n2;" + std::string(1020, 'e') + "\r\nhi\r\n";
    REQUIRE(padded.size() - 8 - 4 == 1024);  // the second size line is 1024 bytes with its CRLF
    require_same_for_every_split(padded + "0\r\n\r\n", Status::done, "abchi");
    const std::string too_long = "3\r\nabc\r\n2;" + std::string(1021, 'e') + "\r\nhi\r\n";
    require_same_for_every_split(too_long, Status::malformed, "abc", "size line too long");
    require_same_for_every_split("3\r\nabc\r\n1" + std::string(1100, ' ') + "\r\nx\r\n",
                                 Status::malformed, "abc", "size line too long");
  }
  SECTION("chunk data not followed by CRLF") {
    require_same_for_every_split("3\r\nabcX\r\n", Status::malformed, "abc",
                                 "missing CRLF after chunk data");
    // More data than the size says: the fault is right after the announced bytes.
    require_same_for_every_split("2\r\nab\r\n3\r\ncdefgh\r\n0\r\n\r\n", Status::malformed, "abcde",
                                 "missing CRLF after chunk data");
    require_same_for_every_split("3\r\nabc\rX", Status::malformed, "abc",
                                 "missing CRLF after chunk data");
  }
  SECTION("a size of more than 15 significant hex digits") {
    require_same_for_every_split("1000000000000000\r\n", Status::malformed, "",
                                 "chunk size too large");
    require_same_for_every_split("ffffffffffffffffff\r\n", Status::malformed, "",
                                 "chunk size too large");
  }
  SECTION("a size of more than 32 hex digits, even if all but one are leading zeros") {
    require_same_for_every_split(std::string(99, '0') + "1\r\nx\r\n", Status::malformed, "",
                                 "more than 32 hex digits");
    // 32 digits are still a size: here the last chunk and an empty trailer section.
    require_same_for_every_split(std::string(32, '0') + "\r\n\r\n", Status::done, "");
  }
  SECTION("a CR that no LF follows") {
    require_same_for_every_split("3\rabc", Status::malformed, "", "CR without LF");
    require_same_for_every_split("1\r\na\r\n0\r\nX: y\rz\r\n\r\n", Status::malformed, "a",
                                 "CR without LF");
    require_same_for_every_split("1\r\na\r\n0\r\n\rX", Status::malformed, "a", "CR without LF");
  }
  SECTION("a trailer section longer than 8192 bytes") {
    const std::string fields = "X: " + std::string(8184, 'v') + "\r\n";  // 8189 bytes
    REQUIRE(fields.size() + 2 == 8191);
    require_same_for_every_split("1\r\na\r\n0\r\n" + fields + "\r\n", Status::done, "a");
    require_same_for_every_split("1\r\na\r\n0\r\n" + fields + "Y\n\n", Status::done, "a");
    require_same_for_every_split("1\r\na\r\n0\r\n" + fields + "Y\r\n\r\n", Status::malformed, "a",
                                 "trailer section too long");
  }
}

TEST_CASE("up to 15 significant hex digits are a size, leading zeros not counted", "[chunked]") {
  ChunkedDecoder decoder;
  auto wire = bytes_of(std::string(9, '0') + std::string(15, 'f') + "\r\nabc");
  const auto result = decoder.decode(wire);
  CHECK(result.status == Status::more);
  CHECK(result.body_bytes == 3);
  CHECK(text_of(std::span(wire).first(3)) == "abc");
  CHECK(decoder.error().empty());
}

TEST_CASE("after a fault every read is malformed and yields no body", "[chunked]") {
  ChunkedDecoder decoder;
  auto first = bytes_of("2\r\nok\r\nzz");
  const auto broken = decoder.decode(first);
  CHECK(broken.status == Status::malformed);
  CHECK(broken.body_bytes == 2);
  CHECK(decoder.error() == "bad hex digit in chunk size");
  auto next = bytes_of("2\r\nok\r\n0\r\n\r\n");
  const auto later = decoder.decode(next);
  CHECK(later.status == Status::malformed);
  CHECK(later.body_bytes == 0);
  CHECK(decoder.body_total() == 2);
  CHECK(decoder.error() == "bad hex digit in chunk size");
}

TEST_CASE("the limits are configurable and exact", "[chunked]") {
  const ChunkedDecoder::Limits limits{8, 6};
  auto run = [&](std::string_view text) {
    ChunkedDecoder decoder(limits);
    auto wire = bytes_of(text);
    const auto result = decoder.decode(wire);
    return std::pair(result.status, std::string(decoder.error()));
  };
  CHECK(run("1;abcd\r\nx\r\n").first == Status::more);  // 8 bytes
  CHECK(run("1;abcde\r\nx\r\n") ==
        std::pair(Status::malformed, std::string("chunk size line too long")));
  CHECK(run("0\r\nA:b\r\n\r\n") ==
        std::pair(Status::malformed, std::string("trailer section too long")));
  CHECK(run("0\r\nA:bc\n\n").first == Status::done);  // 6 bytes
}

TEST_CASE("decoding allocates nothing", "[chunked]") {
  std::mt19937_64 random(11);
  const Message m = encode(random, {70'000, 1, 4096, 33}, Framing{true, true, true});
  std::vector<std::byte> wire = m.wire;
  ChunkedDecoder decoder;
  Status status = Status::more;
  std::size_t body = 0;
  const std::uint64_t before = allocations_so_far();
  for (std::size_t offset = 0; offset < wire.size(); offset += 1000) {
    const std::size_t n = std::min<std::size_t>(1000, wire.size() - offset);
    const auto result = decoder.decode(std::span(wire.data() + offset, n));
    body += result.body_bytes;
    status = result.status;
  }
  const std::uint64_t after = allocations_so_far();
  CHECK(after == before);
  CHECK(status == Status::done);
  CHECK(body == m.body.size());
}
