#include "ringcast/ops/stats_history.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "allocation_counter.h"

using namespace ringcast::relay;

namespace {

// A /stats document as the relay renders it, trimmed to what a sample reads (and one more
// refusal kind than the relay knows today).
std::string stats_document(double uptime, const nlohmann::json& mounts) {
  return nlohmann::json{
      {"version", "test"},
      {"uptime_seconds", uptime},
      {"connections", {{"open", 7}, {"accepted", 40}}},
      {"refused", {{"auth", 2}, {"not_found", 1}, {"limit", 0}, {"a_future_kind", 4}}},
      {"totals",
       {{"mounts", mounts.size()}, {"viewers", 3}, {"bytes_in", 1000}, {"bytes_out", 2500}}},
      {"mounts", mounts},
  }
      .dump(2);
}

nlohmann::json mount(std::uint64_t bitrate, std::uint64_t viewers, std::uint64_t bytes_out) {
  return {{"ingest_bitrate", bitrate},
          {"viewers", viewers},
          {"bytes_out", bytes_out},
          {"ring_bytes", 4096},
          {"source_connected", true}};
}

HistorySample sample_at(double uptime, std::vector<MountSample> mounts = {}) {
  HistorySample sample;
  sample.relay.uptime_seconds = uptime;
  sample.mounts = std::move(mounts);
  return sample;
}

std::vector<double> uptimes(const StatsHistory& history) {
  std::vector<double> result;
  for (const auto& sample : history.samples()) result.push_back(sample.relay.uptime_seconds);
  return result;
}

}  // namespace

TEST_CASE(
    "stats history: a /stats document becomes a sample: totals, every refusal summed, each mount",
    "[history]") {
  const auto sample = history_sample_from_stats(stats_document(
      12.5, {{"/live.ts", mount(800'000, 3, 2000)}, {"/radio.mp3", mount(128'000, 0, 500)}}));
  REQUIRE(sample);
  CHECK(sample->relay.uptime_seconds == 12.5);
  CHECK(sample->relay.viewers == 3);
  CHECK(sample->relay.connections_open == 7);
  CHECK(sample->relay.bytes_in == 1000);
  CHECK(sample->relay.bytes_out == 2500);
  CHECK(sample->relay.refused == 2 + 1 + 0 + 4);
  REQUIRE(sample->mounts.size() == 2);
  CHECK(sample->mounts[0].mount == "/live.ts");
  CHECK(sample->mounts[0].ingest_bitrate == 800'000);
  CHECK(sample->mounts[0].viewers == 3);
  CHECK(sample->mounts[0].bytes_out == 2000);
  CHECK(sample->mounts[1].mount == "/radio.mp3");
}

TEST_CASE("stats history: a document that is not /stats gives no sample", "[history]") {
  CHECK_FALSE(history_sample_from_stats(""));
  CHECK_FALSE(history_sample_from_stats("{\"mounts\": {"));
  CHECK_FALSE(history_sample_from_stats("[1, 2]"));
  CHECK_FALSE(history_sample_from_stats(R"({"uptime_seconds": 1, "totals": {}})"));
  CHECK_FALSE(history_sample_from_stats(R"({"uptime_seconds": "1", "totals": {}, "mounts": {}})"));
}

TEST_CASE("stats history: a sample is due an interval after the last one was recorded",
          "[history]") {
  StatsHistory history(4);
  CHECK(history.due(0));
  REQUIRE(history.record(10'000, sample_at(10)));
  CHECK_FALSE(history.due(10'000 + StatsHistory::kIntervalMs - 1));
  CHECK(history.due(10'000 + StatsHistory::kIntervalMs));
}

TEST_CASE("stats history: samples are kept oldest first up to capacity, then the oldest goes",
          "[history]") {
  StatsHistory history(3);
  CHECK(history.capacity() == 3);
  CHECK(history.samples().empty());
  for (int i = 1; i <= 2; ++i) REQUIRE(history.record(i * 2000, sample_at(i)));
  CHECK(uptimes(history) == std::vector<double>{1, 2});
  for (int i = 3; i <= 7; ++i) REQUIRE(history.record(i * 2000, sample_at(i)));
  CHECK(uptimes(history) == std::vector<double>{5, 6, 7});
  CHECK(history.capacity() == 3);
}

TEST_CASE(
    "stats history: an ended mount stays in the samples taken while it lived and leaves with them",
    "[history]") {
  StatsHistory history(3);
  const MountSample live{"/live.ts", 800'000, 3, 100};
  const MountSample ended{"/ended-with-a-long-name.ts", 64'000, 1, 50};
  REQUIRE(history.record(0, sample_at(1, {live, ended})));
  REQUIRE(history.record(2000, sample_at(2, {live})));
  REQUIRE(history.record(4000, sample_at(3, {live})));
  auto samples = history.samples();
  REQUIRE(samples[0].mounts.size() == 2);
  CHECK(samples[0].mounts[1].mount == "/ended-with-a-long-name.ts");
  CHECK(samples[1].mounts.size() == 1);

  REQUIRE(history.record(6000, sample_at(4, {live})));  // overwrites the slot that held it
  for (const auto& sample : history.samples()) {
    REQUIRE(sample.mounts.size() == 1);
    CHECK(sample.mounts[0].mount == "/live.ts");
  }
  const auto rendered = nlohmann::json::parse(history.render_json());
  for (const auto& sample : rendered["samples"])
    CHECK_FALSE(sample["mounts"].contains("/ended-with-a-long-name.ts"));
}

TEST_CASE("stats history: once every slot has held the most mounts, recording allocates nothing",
          "[history]") {
  StatsHistory history(4);
  const std::vector<MountSample> mounts{
      {"/a-mount-name-longer-than-small-strings.ts", 1, 2, 3},
      {"/another-mount-name-past-the-inline-buffer.mp3", 4, 5, 6}};
  const HistorySample full = sample_at(1, mounts);
  const HistorySample one = sample_at(2, {mounts[1]});
  for (int lap = 0; lap < 4; ++lap) REQUIRE(history.record(lap * 2000, full));  // every slot warm

  int recorded = 0;  // counted, not asserted, inside: Catch's assertions may allocate
  const std::uint64_t before = allocations_so_far();
  for (int i = 0; i < 40; ++i)
    recorded += history.record(10'000 + i * 2000, i % 3 == 1 ? one : full);
  const std::uint64_t after = allocations_so_far();
  CHECK(recorded == 40);
  CHECK(after == before);
  CHECK(history.samples().back().mounts.size() == 2);
}

TEST_CASE(
    "stats history: /stats/history lists the samples oldest first, as the dashboard reads them",
    "[history]") {
  StatsHistory history(10);
  REQUIRE(history.record(0, stats_document(4.25, {{"/live.ts", mount(800'000, 3, 2000)}})));
  REQUIRE(history.record(2000, stats_document(6.25, nlohmann::json::object())));
  const auto doc = nlohmann::json::parse(history.render_json());
  CHECK(doc["interval_seconds"] == 2.0);
  CHECK(doc["capacity"] == 10);
  REQUIRE(doc["samples"].size() == 2);
  const auto& first = doc["samples"][0];
  CHECK(first["uptime_seconds"] == 4.25);
  CHECK(first["viewers"] == 3);
  CHECK(first["connections_open"] == 7);
  CHECK(first["bytes_in"] == 1000);
  CHECK(first["bytes_out"] == 2500);
  CHECK(first["refused"] == 7);
  CHECK(first["mounts"]["/live.ts"] ==
        nlohmann::json{{"ingest_bitrate", 800'000}, {"viewers", 3}, {"bytes_out", 2000}});
  CHECK(doc["samples"][1]["uptime_seconds"] == 6.25);
  CHECK(doc["samples"][1]["mounts"] == nlohmann::json::object());
}

TEST_CASE("stats history: a reader on another thread sees whole samples while the writer records",
          "[history]") {
  StatsHistory history(8);
  std::atomic<bool> done{false};
  std::string
      torn;  // the reader's first bad sample; asserted on this thread (Catch is not thread-safe)
  std::atomic<std::uint64_t> reads{0};
  std::thread reader([&] {
    while (!done.load() && torn.empty()) {
      const auto doc = nlohmann::json::parse(history.render_json());
      double previous = -1;
      for (const auto& sample : doc["samples"]) {
        const double uptime = sample["uptime_seconds"];
        if (uptime <= previous ||
            sample["mounts"]["/live.ts"]["viewers"] != static_cast<std::uint64_t>(uptime)) {
          torn = sample.dump();
        }
        previous = uptime;
      }
      reads.fetch_add(1);
    }
  });
  while (reads.load() == 0) std::this_thread::yield();  // overlap the two from the start
  // The writer never waits: a record refused while the reader copies is simply tried again.
  int recorded = 0;
  for (int attempt = 0; attempt < 1'000'000 && recorded < 500; ++attempt) {
    const auto viewers = static_cast<std::uint64_t>(recorded + 1);
    if (history.record(0, sample_at(recorded + 1, {{"/live.ts", 0, viewers, 0}}))) ++recorded;
  }
  done.store(true);
  reader.join();
  CHECK(torn.empty());
  CHECK(recorded == 500);
  CHECK(uptimes(history).back() == 500);
}
