// The bench's record format and verifier: what a viewer must count as ok, skipped, discarded
// or corrupt for every way a relay can cut the stream.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "histogram.h"
#include "pacing.h"
#include "payload.h"
#include "stream_verifier.h"

using namespace ringcast::bench;

namespace {

// Records [0, count) of `stream` as one byte stream, as its broadcaster would send them.
std::vector<std::uint8_t> make_stream(std::size_t count, std::uint64_t stream = 0) {
  std::vector<std::uint8_t> bytes(count * kRecordSize);
  RecordWriter writer(stream, 0);
  writer.fill(bytes, 1000);
  return bytes;
}

std::span<const std::uint8_t> slice(const std::vector<std::uint8_t>& bytes, std::size_t from,
                                    std::size_t to) {
  return std::span<const std::uint8_t>(bytes).subspan(from, to - from);
}

// Feeds in random-sized reads, as a socket delivers them.
void feed_in_pieces(StreamVerifier& verifier, std::span<const std::uint8_t> bytes,
                    std::mt19937& rng) {
  std::uniform_int_distribution<std::size_t> piece(1, 700);
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), piece(rng));
    verifier.feed(bytes.first(n), 2000, nullptr);
    bytes = bytes.subspan(n);
  }
}

}  // namespace

TEST_CASE("a record decodes to its stream, sequence and timestamp, any flipped byte fails") {
  std::array<std::uint8_t, kRecordSize> record;
  encode_record(record, 4999, 42, 123456789);
  auto decoded = decode_record(record);
  REQUIRE(decoded);
  CHECK(decoded->stream == 4999);
  CHECK(decoded->seq == 42);
  CHECK(decoded->send_ns == 123456789);
  for (std::size_t i = 0; i < kRecordSize; ++i) {
    auto copy = record;
    copy[i] ^= 0x10;
    CHECK_FALSE(decode_record(copy));
  }
}

TEST_CASE("the writer's stream is the same whatever the write size") {
  const auto whole = make_stream(50);
  std::vector<std::uint8_t> cut(whole.size());
  RecordWriter writer;
  std::size_t offset = 0;
  for (std::size_t n : {1, 187, 188, 189, 500, 1316}) {
    writer.fill(std::span(cut).subspan(offset, n), 1000);
    offset += n;
  }
  writer.fill(std::span(cut).subspan(offset), 1000);
  CHECK(cut == whole);
}

TEST_CASE("a clean stream verifies with every record ok, whatever the read sizes") {
  const auto stream = make_stream(1000);
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  StreamVerifier verifier;
  Histogram latency;
  verifier.feed(slice(stream, 0, 10 * kRecordSize), 1500, &latency);
  feed_in_pieces(verifier, slice(stream, 10 * kRecordSize, stream.size()), rng);
  const auto& counts = verifier.counts();
  CHECK(counts.records_ok == 1000);
  CHECK(counts.records_corrupt == 0);
  CHECK(counts.gaps == 0);
  CHECK(counts.bytes_discarded_at_join == 0);
  CHECK(latency.count() == 10);
  CHECK(latency.max() == 500);
}

TEST_CASE("a gap at a record boundary counts as a skip, not corruption") {
  const auto stream = make_stream(200);
  std::mt19937 rng(1);
  StreamVerifier verifier;
  feed_in_pieces(verifier, slice(stream, 0, 100 * kRecordSize), rng);
  feed_in_pieces(verifier, slice(stream, 150 * kRecordSize, stream.size()), rng);
  const auto& counts = verifier.counts();
  CHECK(counts.records_ok == 150);
  CHECK(counts.gaps == 1);
  CHECK(counts.records_skipped == 50);
  CHECK(counts.records_corrupt == 0);
  CHECK(counts.bytes_discarded_after_corruption == 0);
}

TEST_CASE("bytes spliced from two records mid-record count as corrupt") {
  const auto stream = make_stream(100);
  std::mt19937 rng(2);
  StreamVerifier verifier;
  feed_in_pieces(verifier, slice(stream, 0, 5 * kRecordSize + 100), rng);
  feed_in_pieces(verifier, slice(stream, 20 * kRecordSize + 100, stream.size()), rng);
  const auto& counts = verifier.counts();
  CHECK(counts.records_corrupt == 1);
  CHECK(counts.records_ok == 5 + 79);  // 0..4, then 21..99 after rescanning
  CHECK(counts.gaps == 0);             // the records lost belong to the corruption, not to a skip
}

TEST_CASE("once synced, a bit flip inside a record counts as corrupt") {
  auto stream = make_stream(30);
  stream[12 * kRecordSize + 60] ^= 1;
  StreamVerifier verifier;
  verifier.feed(stream, 2000, nullptr);
  CHECK(verifier.counts().records_corrupt == 1);
  CHECK(verifier.counts().records_ok == 29);
  CHECK(verifier.counts().gaps == 0);
}

TEST_CASE("a mid-stream join at any offset resyncs and counts the discarded bytes") {
  const auto stream = make_stream(100);
  std::mt19937 rng(3);
  for (std::size_t offset : {std::size_t{1}, std::size_t{77}, std::size_t{187}, std::size_t{188}}) {
    StreamVerifier verifier;
    const std::size_t start = 5 * kRecordSize + offset;
    feed_in_pieces(verifier, slice(stream, start, stream.size()), rng);
    const std::size_t expected_discard = (kRecordSize - offset % kRecordSize) % kRecordSize;
    const auto& counts = verifier.counts();
    CHECK(counts.bytes_discarded_at_join == expected_discard);
    CHECK(counts.records_corrupt == 0);
    CHECK(counts.records_ok == (stream.size() - start - expected_discard) / kRecordSize);
  }
}

TEST_CASE("a false sync byte before the first record is discarded, not corrupt") {
  const auto stream = make_stream(20);
  std::vector<std::uint8_t> joined(300 + stream.size(), kSyncByte);  // garbage of sync bytes
  std::copy(stream.begin(), stream.end(), joined.begin() + 300);
  StreamVerifier verifier;
  verifier.feed(joined, 2000, nullptr);
  CHECK(verifier.counts().bytes_discarded_at_join == 300);
  CHECK(verifier.counts().records_corrupt == 0);
  CHECK(verifier.counts().records_ok == 20);
}

namespace {

// What a viewer receives when the broadcaster of `first` records (generation - 1) reconnects
// as `generation` after cutting its last record at `cut` bytes: the old stream up to the cut,
// then the new one from its first record, whose number follows the cut record's.
std::vector<std::uint8_t> reconnected_stream(std::uint64_t generation, std::size_t first,
                                             std::size_t cut, std::size_t second) {
  std::vector<std::uint8_t> bytes(first * kRecordSize + cut);
  RecordWriter old_source(7, make_seq(generation - 1, 100 * generation));
  old_source.fill(bytes, 1000);
  RecordWriter new_source(7, make_seq(generation, seq_number(old_source.next_seq())));
  std::vector<std::uint8_t> more(second * kRecordSize);
  new_source.fill(more, 2000);
  bytes.insert(bytes.end(), more.begin(), more.end());
  return bytes;
}

}  // namespace

TEST_CASE("a record the broadcaster cut at every scheduled offset is torn, not corrupt") {
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  for (std::uint64_t generation = 1; generation <= 200; ++generation) {
    const std::size_t cut = tear_offset(generation);
    const auto stream = reconnected_stream(generation, 10, cut, 10);
    for (std::size_t join : {std::size_t{0}, std::size_t{3 * kRecordSize + 5}}) {
      INFO("generation " << generation << ", cut " << cut << ", join at " << join);
      StreamVerifier verifier(7);
      feed_in_pieces(verifier, slice(stream, join, stream.size()), rng);
      const auto& counts = verifier.counts();
      CHECK(counts.records_corrupt == 0);
      CHECK(counts.records_torn == (cut == 0 ? 0 : 1));
      CHECK(counts.bytes_discarded_at_tear == cut);
      CHECK(counts.source_restarts == 1);
      CHECK(counts.gaps == 0);
      CHECK(counts.records_ok == (join == 0 ? 20 : 16));
    }
  }
}

TEST_CASE("a record the broadcaster cut, dropped whole by the relay, is torn, not a gap") {
  // ringcast never sends a cut packet: the old source's last, partial record is left out.
  for (std::uint64_t generation = 1; generation <= 50; ++generation) {
    const std::size_t cut = tear_offset(generation);
    if (cut == 0) continue;
    auto stream = reconnected_stream(generation, 10, cut, 10);
    stream.erase(stream.begin() + 10 * kRecordSize, stream.begin() + 10 * kRecordSize + cut);
    INFO("generation " << generation << ", cut " << cut);
    StreamVerifier verifier(7);
    verifier.feed(stream, 2000, nullptr);
    CHECK(verifier.counts().records_corrupt == 0);
    CHECK(verifier.counts().records_torn == 1);
    CHECK(verifier.counts().gaps == 0);
    CHECK(verifier.counts().source_restarts == 1);
    CHECK(verifier.counts().records_ok == 20);
  }
}

TEST_CASE("a record cut at another offset than the schedule's is corrupt") {
  // The relay passed on 5 bytes more of the cut record than the broadcaster sent.
  const auto stream = reconnected_stream(1, 10, tear_offset(1) + 5, 10);
  StreamVerifier verifier(7);
  verifier.feed(stream, 2000, nullptr);
  CHECK(verifier.counts().records_corrupt == 1);
  CHECK(verifier.counts().records_torn == 0);
}

TEST_CASE("a splice into the new generation from a record other than the cut one is corrupt") {
  const std::uint64_t generation = 5;  // cut at 12 bytes: the head and the whole seq
  const std::size_t cut = tear_offset(generation);
  const auto stream = reconnected_stream(generation, 10, cut, 10);
  // The first `cut` bytes of record 8 (not the cut record 10), then the new generation.
  std::vector<std::uint8_t> spliced(stream.begin(), stream.begin() + 8 * kRecordSize + cut);
  spliced.insert(spliced.end(), stream.begin() + 10 * kRecordSize + cut, stream.end());
  StreamVerifier verifier(7);
  verifier.feed(spliced, 2000, nullptr);
  CHECK(verifier.counts().records_corrupt == 1);
  CHECK(verifier.counts().records_torn == 0);
}

TEST_CASE("a new generation that does not continue the numbers after a cut is corrupt") {
  const std::size_t cut = tear_offset(5);
  std::vector<std::uint8_t> stream(10 * kRecordSize + cut);
  RecordWriter old_source(0, make_seq(4, 0));
  old_source.fill(stream, 1000);
  RecordWriter new_source(0, make_seq(5, 50));  // number 50, not 11
  std::vector<std::uint8_t> more(10 * kRecordSize);
  new_source.fill(more, 2000);
  stream.insert(stream.end(), more.begin(), more.end());
  StreamVerifier verifier;
  verifier.feed(stream, 2000, nullptr);
  CHECK(verifier.counts().records_corrupt == 1);
  CHECK(verifier.counts().records_torn == 0);
}

TEST_CASE("a cut into another stream's new generation is corrupt, not torn") {
  // Mount 7's broadcaster cuts its record; what follows is mount 8's, at the scheduled offset.
  const std::uint64_t generation = 5;
  const std::size_t cut = tear_offset(generation);
  std::vector<std::uint8_t> stream(10 * kRecordSize + cut);
  RecordWriter old_source(7, make_seq(generation - 1, 0));
  old_source.fill(stream, 1000);
  RecordWriter other_mount(8, make_seq(generation, seq_number(old_source.next_seq())));
  std::vector<std::uint8_t> more(10 * kRecordSize);
  other_mount.fill(more, 2000);
  stream.insert(stream.end(), more.begin(), more.end());
  StreamVerifier verifier(7);
  verifier.feed(stream, 2000, nullptr);
  CHECK(verifier.counts().records_corrupt == 1);
  CHECK(verifier.counts().records_torn == 0);
  CHECK(verifier.counts().records_foreign > 0);
}

TEST_CASE("another stream's records are foreign: they never sync a viewer or count as ok") {
  const auto own = make_stream(50, 3);
  const auto other = make_stream(50, 4);
  std::mt19937 rng(4);
  SECTION("from the first byte") {
    StreamVerifier verifier(3);
    feed_in_pieces(verifier, slice(other, 5, other.size()), rng);
    CHECK(verifier.counts().records_foreign == 49);
    CHECK(verifier.counts().records_ok == 0);
    CHECK_FALSE(verifier.synced());
  }
  SECTION("after the viewer's own records, at a record boundary") {
    StreamVerifier verifier(3);
    feed_in_pieces(verifier, slice(own, 0, 20 * kRecordSize), rng);
    feed_in_pieces(verifier, slice(other, 20 * kRecordSize, 30 * kRecordSize), rng);
    feed_in_pieces(verifier, slice(own, 20 * kRecordSize, own.size()), rng);
    CHECK(verifier.counts().records_foreign == 10);
    CHECK(verifier.counts().records_ok == 50);
    CHECK(verifier.counts().records_corrupt == 0);
    CHECK(verifier.counts().gaps == 0);
  }
}

// A relay that does not know the records' framing (any content type but MPEG-TS) joins a
// viewer at any byte and ends its writes anywhere.
TEST_CASE("a join at every byte offset, read in random pieces, resyncs without corruption") {
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const auto stream = make_stream(40, 11);
  for (std::size_t start = 3 * kRecordSize; start <= 4 * kRecordSize; ++start) {
    INFO("join at byte " << start);
    StreamVerifier verifier(11);
    feed_in_pieces(verifier, slice(stream, start, stream.size()), rng);
    const std::size_t discarded = (kRecordSize - start % kRecordSize) % kRecordSize;
    CHECK(verifier.counts().bytes_discarded_at_join == discarded);
    CHECK(verifier.counts().records_ok == (stream.size() - start - discarded) / kRecordSize);
    CHECK(verifier.counts().records_corrupt == 0);
  }
}

TEST_CASE("once synced, bytes dropped or repeated inside a record are corrupt (MPEG-TS skips)") {
  const auto stream = make_stream(60, 2);
  std::mt19937 rng(5);
  for (std::size_t at : {std::size_t{1}, std::size_t{93}, std::size_t{187}}) {
    for (int shift : {-1, 1, 50}) {  // a byte repeated; bytes dropped (as an unaligned skip)
      INFO("record offset " << at << ", shift " << shift);
      const std::size_t cut = 20 * kRecordSize + at;
      std::vector<std::uint8_t> bytes(stream.begin(), stream.begin() + cut);
      bytes.insert(bytes.end(), stream.begin() + static_cast<std::ptrdiff_t>(cut) + shift,
                   stream.end());
      StreamVerifier verifier(2);
      feed_in_pieces(verifier, bytes, rng);
      CHECK(verifier.counts().records_corrupt == 1);
      CHECK(verifier.counts().records_ok >= 20 + 38);
    }
  }
}

namespace {

// Record `from` cut after `a` bytes, then the stream again from `b` bytes into record `to`.
std::vector<std::uint8_t> skipped_stream(const std::vector<std::uint8_t>& stream, std::size_t from,
                                         std::size_t a, std::size_t to, std::size_t b) {
  std::vector<std::uint8_t> bytes(stream.begin(),
                                  stream.begin() + static_cast<std::ptrdiff_t>(from * 188 + a));
  bytes.insert(bytes.end(), stream.begin() + static_cast<std::ptrdiff_t>(to * 188 + b),
               stream.end());
  return bytes;
}

}  // namespace

TEST_CASE("a skip from inside one record to inside a later one is a gap where any byte may be") {
  const auto stream = make_stream(120, 9);
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> offset(0, kRecordSize - 1);
  std::vector<std::pair<std::size_t, std::size_t>> cuts = {
      {1, 2}, {4, 4}, {187, 187}, {1, 187}, {187, 1}, {93, 0}, {5, 180}, {100, 186}, {12, 12}};
  for (int i = 0; i < 200; ++i) cuts.emplace_back(1 + offset(rng) % 187, offset(rng));
  for (const auto& [a, b] : cuts) {
    // The 4-byte head is every record's: cut and resumed there, the bytes are record 70 whole.
    if (a == b && a <= 4) continue;
    INFO("cut " << a << " bytes into record 30, resumed " << b << " bytes into record 70");
    const auto bytes = skipped_stream(stream, 30, a, 70, b);
    StreamVerifier verifier(9, SkipAlignment::kAnyByte);
    feed_in_pieces(verifier, bytes, rng);
    const auto& counts = verifier.counts();
    const std::size_t next_whole = b == 0 ? 70 : 71;
    CHECK(counts.records_corrupt == 0);
    CHECK(counts.gaps == 1);
    CHECK(counts.gaps_unaligned == 1);
    CHECK(counts.records_skipped == next_whole - 30);
    CHECK(counts.bytes_discarded_at_gap == a + (b == 0 ? 0 : kRecordSize - b));
    CHECK(counts.records_ok == 30 + 120 - next_whole);

    StreamVerifier strict(9, SkipAlignment::kRecord);  // MPEG-TS: the relay must cut packets
    feed_in_pieces(strict, bytes, rng);
    CHECK(strict.counts().records_corrupt == 1);
    CHECK(strict.counts().gaps_unaligned == 0);
  }
}

TEST_CASE("where any byte may be skipped, what is not exactly a skip forward is still corrupt") {
  const auto stream = make_stream(120, 9);
  std::mt19937 rng(6);
  const auto check_corrupt = [&](const std::vector<std::uint8_t>& bytes) {
    StreamVerifier verifier(9, SkipAlignment::kAnyByte);
    feed_in_pieces(verifier, bytes, rng);
    CHECK(verifier.counts().records_corrupt == 1);
    CHECK(verifier.counts().gaps_unaligned == 0);
  };
  SECTION("bytes dropped inside one record") {
    check_corrupt(skipped_stream(stream, 30, 40, 30, 90));
  }
  SECTION("a byte repeated") {
    check_corrupt(skipped_stream(stream, 30, 40, 30, 39));
  }
  SECTION("back into an earlier record") {
    check_corrupt(skipped_stream(stream, 30, 40, 10, 90));
  }
  SECTION("a flipped byte in the filler") {
    auto bytes = stream;
    bytes[30 * kRecordSize + 100] ^= 4;
    check_corrupt(bytes);
  }
  SECTION("a flipped byte in the suffix after the skip") {
    auto bytes = skipped_stream(stream, 30, 40, 70, 60);
    bytes[30 * kRecordSize + 40 + 50] ^= 4;  // record 70's byte 110
    check_corrupt(bytes);
  }
  SECTION("another mount's bytes after the cut") {
    const auto other = make_stream(120, 10);
    std::vector<std::uint8_t> bytes(stream.begin(), stream.begin() + 30 * kRecordSize + 40);
    bytes.insert(bytes.end(), other.begin() + 70 * kRecordSize + 60, other.end());
    StreamVerifier verifier(9, SkipAlignment::kAnyByte);
    feed_in_pieces(verifier, bytes, rng);
    CHECK(verifier.counts().records_corrupt == 1);
    CHECK(verifier.counts().records_foreign > 0);
  }
}

TEST_CASE("a record the broadcaster cut is torn, not a gap, where any byte may be skipped") {
  std::mt19937 rng(7);
  for (std::uint64_t generation = 1; generation <= 20; ++generation) {
    const std::size_t cut = tear_offset(generation);
    const auto stream = reconnected_stream(generation, 10, cut, 10);
    StreamVerifier verifier(7, SkipAlignment::kAnyByte);
    feed_in_pieces(verifier, stream, rng);
    CHECK(verifier.counts().records_corrupt == 0);
    CHECK(verifier.counts().records_torn == (cut == 0 ? 0 : 1));
    CHECK(verifier.counts().gaps == 0);
    CHECK(verifier.counts().records_ok == 20);
  }
}

TEST_CASE("a paced chunk is due exactly at its due time, at any rate and chunk size") {
  for (const Pacing pacing : {Pacing{1'000, 128'000, 1024}, Pacing{77, 8'000'000, 16384},
                              Pacing{5, 1'000'000, 1316}, Pacing{0, 3'000'001, 7}}) {
    INFO("rate " << pacing.rate_bps << ", chunk " << pacing.chunk_bytes);
    CHECK(pacing.due_by(pacing.origin_ns - (pacing.origin_ns > 0 ? 1 : 0)) ==
          (pacing.origin_ns > 0 ? 0 : 1));
    for (std::uint64_t n : {0ull, 1ull, 2ull, 1000ull, 123457ull, 10'000'000ull}) {
      const std::uint64_t at = pacing.due_at(n);
      CHECK(pacing.due_by(at) == n + 1);
      if (at > pacing.origin_ns) CHECK(pacing.due_by(at - 1) == n);
    }
  }
  // 128 kbit/s in 1024-byte writes: one every 64 ms, with no drift after an hour.
  const Pacing radio{0, 128'000, 1024};
  CHECK(radio.interval_ns() == 64'000'000);
  CHECK(radio.due_at(56'250) == 3600ull * 1'000'000'000);
}

TEST_CASE("histogram percentiles stay within a bucket's width") {
  Histogram histogram;
  for (std::uint64_t v = 1; v <= 100000; ++v) histogram.record(v);
  CHECK(histogram.percentile(0.5) >= 50000);
  CHECK(histogram.percentile(0.5) <= 50000 * 1.04);
  CHECK(histogram.percentile(1.0) == 100000);
  CHECK(Histogram::bucket_of(~std::uint64_t{0}) == Histogram::kBuckets - 1);
}
