// JSON round trip and merging of viewer-process results.
#include "results.h"

#include <algorithm>
#include <utility>

namespace ringcast::bench {
namespace {

using nlohmann::json;

json histogram_to_json(const Histogram& histogram) {
  json buckets = json::array();
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (histogram.bucket_count(i) != 0) buckets.push_back({i, histogram.bucket_count(i)});
  }
  return {{"max", histogram.max()}, {"buckets", std::move(buckets)}};
}

Histogram histogram_from_json(const json& j) {
  Histogram histogram;
  const std::uint64_t max = j.at("max").get<std::uint64_t>();
  for (const auto& bucket : j.at("buckets")) {
    const auto index = bucket.at(0).get<std::size_t>();
    if (index < Histogram::kBuckets)
      histogram.add_bucket(index, bucket.at(1).get<std::uint64_t>(), max);
  }
  return histogram;
}

json class_to_json(const ClassResult& c) {
  const VerifierCounts& v = c.counts;
  return {{"viewers", c.viewers},
          {"connected", c.connected},
          {"connect_failures", c.connect_failures},
          {"http_errors", c.http_errors},
          {"server_disconnects", c.server_disconnects},
          {"late_joins", c.late_joins},
          {"joins", c.joins},
          {"leaves", c.leaves},
          {"sessions_without_data", c.sessions_without_data},
          {"sessions_unverified", c.sessions_unverified},
          {"records_ok", v.records_ok},
          {"records_corrupt", v.records_corrupt},
          {"gaps", v.gaps},
          {"records_skipped", v.records_skipped},
          {"records_replayed", v.records_replayed},
          {"records_foreign", v.records_foreign},
          {"bytes_discarded_at_join", v.bytes_discarded_at_join},
          {"bytes_discarded_after_corruption", v.bytes_discarded_after_corruption},
          {"source_restarts", v.source_restarts},
          {"records_torn", v.records_torn},
          {"bytes_discarded_at_tear", v.bytes_discarded_at_tear},
          {"gaps_unaligned", v.gaps_unaligned},
          {"bytes_discarded_at_gap", v.bytes_discarded_at_gap},
          {"bytes_received", c.bytes_received},
          {"bytes_in_window", c.bytes_in_window},
          {"latency_ns", histogram_to_json(c.latency_ns)},
          {"first_byte_ns", histogram_to_json(c.first_byte_ns)},
          {"answer_rx_ns", histogram_to_json(c.answer_rx_ns)},
          {"stream_rx_ns", histogram_to_json(c.stream_rx_ns)},
          {"window_rates_bps", c.window_rates_bps},
          {"icy_blocks", c.icy.blocks},
          {"icy_titles", c.icy.titles},
          {"icy_bad_blocks", c.icy.bad_blocks},
          {"icy_missing_metaint", c.icy_missing_metaint},
          {"icy_metaint", c.icy_metaint},
          {"last_title_viewers", c.last_title_viewers}};
}

ClassResult class_from_json(const json& j) {
  ClassResult c;
  VerifierCounts& v = c.counts;
  j.at("viewers").get_to(c.viewers);
  j.at("connected").get_to(c.connected);
  j.at("connect_failures").get_to(c.connect_failures);
  j.at("http_errors").get_to(c.http_errors);
  j.at("server_disconnects").get_to(c.server_disconnects);
  j.at("late_joins").get_to(c.late_joins);
  j.at("joins").get_to(c.joins);
  j.at("leaves").get_to(c.leaves);
  j.at("sessions_without_data").get_to(c.sessions_without_data);
  j.at("sessions_unverified").get_to(c.sessions_unverified);
  j.at("records_ok").get_to(v.records_ok);
  j.at("records_corrupt").get_to(v.records_corrupt);
  j.at("gaps").get_to(v.gaps);
  j.at("records_skipped").get_to(v.records_skipped);
  j.at("records_replayed").get_to(v.records_replayed);
  j.at("records_foreign").get_to(v.records_foreign);
  j.at("bytes_discarded_at_join").get_to(v.bytes_discarded_at_join);
  j.at("bytes_discarded_after_corruption").get_to(v.bytes_discarded_after_corruption);
  j.at("source_restarts").get_to(v.source_restarts);
  j.at("records_torn").get_to(v.records_torn);
  j.at("bytes_discarded_at_tear").get_to(v.bytes_discarded_at_tear);
  j.at("gaps_unaligned").get_to(v.gaps_unaligned);
  j.at("bytes_discarded_at_gap").get_to(v.bytes_discarded_at_gap);
  j.at("bytes_received").get_to(c.bytes_received);
  j.at("bytes_in_window").get_to(c.bytes_in_window);
  c.latency_ns = histogram_from_json(j.at("latency_ns"));
  c.first_byte_ns = histogram_from_json(j.at("first_byte_ns"));
  c.answer_rx_ns = histogram_from_json(j.at("answer_rx_ns"));
  c.stream_rx_ns = histogram_from_json(j.at("stream_rx_ns"));
  j.at("window_rates_bps").get_to(c.window_rates_bps);
  j.at("icy_blocks").get_to(c.icy.blocks);
  j.at("icy_titles").get_to(c.icy.titles);
  j.at("icy_bad_blocks").get_to(c.icy.bad_blocks);
  j.at("icy_missing_metaint").get_to(c.icy_missing_metaint);
  j.at("icy_metaint").get_to(c.icy_metaint);
  j.at("last_title_viewers").get_to(c.last_title_viewers);
  return c;
}

}  // namespace

void ClassResult::merge(ClassResult&& other) {
  viewers += other.viewers;
  connected += other.connected;
  connect_failures += other.connect_failures;
  http_errors += other.http_errors;
  server_disconnects += other.server_disconnects;
  late_joins += other.late_joins;
  joins += other.joins;
  leaves += other.leaves;
  sessions_without_data += other.sessions_without_data;
  sessions_unverified += other.sessions_unverified;
  counts.add(other.counts);
  bytes_received += other.bytes_received;
  bytes_in_window += other.bytes_in_window;
  latency_ns.merge(other.latency_ns);
  first_byte_ns.merge(other.first_byte_ns);
  answer_rx_ns.merge(other.answer_rx_ns);
  stream_rx_ns.merge(other.stream_rx_ns);
  window_rates_bps.insert(window_rates_bps.end(), other.window_rates_bps.begin(),
                          other.window_rates_bps.end());
  icy.add(other.icy);
  icy_missing_metaint += other.icy_missing_metaint;
  icy_metaint = std::max(icy_metaint, other.icy_metaint);
  if (last_title_viewers.size() < other.last_title_viewers.size()) {
    last_title_viewers.resize(other.last_title_viewers.size());
  }
  for (std::size_t n = 0; n < other.last_title_viewers.size(); ++n) {
    last_title_viewers[n] += other.last_title_viewers[n];
  }
}

void ProcessResult::merge(ProcessResult&& other) {
  if (other.window_seconds > window_seconds) window_seconds = other.window_seconds;
  bench_cpu_seconds += other.bench_cpu_seconds;
  healthy.merge(std::move(other.healthy));
  stalled.merge(std::move(other.stalled));
  churning.merge(std::move(other.churning));
}

void Progress::merge(const Progress& other) {
  connected += other.connected;
  open += other.open;
  failures += other.failures;
  disconnects += other.disconnects;
  bytes += other.bytes;
  corrupt += other.corrupt;
  skipped += other.skipped;
  torn += other.torn;
  foreign += other.foreign;
  joins += other.joins;
  leaves += other.leaves;
  icy_titles += other.icy_titles;
  icy_bad_blocks += other.icy_bad_blocks;
}

json to_json(const ProcessResult& result) {
  return {{"window_seconds", result.window_seconds},
          {"bench_cpu_seconds", result.bench_cpu_seconds},
          {"healthy", class_to_json(result.healthy)},
          {"stalled", class_to_json(result.stalled)},
          {"churning", class_to_json(result.churning)}};
}

ProcessResult process_result_from_json(const json& j) {
  ProcessResult result;
  j.at("window_seconds").get_to(result.window_seconds);
  j.at("bench_cpu_seconds").get_to(result.bench_cpu_seconds);
  result.healthy = class_from_json(j.at("healthy"));
  result.stalled = class_from_json(j.at("stalled"));
  result.churning = class_from_json(j.at("churning"));
  return result;
}

json to_json(const Progress& p) {
  return {{"connected", p.connected},
          {"open", p.open},
          {"failures", p.failures},
          {"disconnects", p.disconnects},
          {"bytes", p.bytes},
          {"corrupt", p.corrupt},
          {"skipped", p.skipped},
          {"torn", p.torn},
          {"foreign", p.foreign},
          {"joins", p.joins},
          {"leaves", p.leaves},
          {"icy_titles", p.icy_titles},
          {"icy_bad_blocks", p.icy_bad_blocks}};
}

Progress progress_from_json(const json& j) {
  Progress p;
  j.at("connected").get_to(p.connected);
  j.at("open").get_to(p.open);
  j.at("failures").get_to(p.failures);
  j.at("disconnects").get_to(p.disconnects);
  j.at("bytes").get_to(p.bytes);
  j.at("corrupt").get_to(p.corrupt);
  j.at("skipped").get_to(p.skipped);
  j.at("torn").get_to(p.torn);
  j.at("foreign").get_to(p.foreign);
  j.at("joins").get_to(p.joins);
  j.at("leaves").get_to(p.leaves);
  j.at("icy_titles").get_to(p.icy_titles);
  j.at("icy_bad_blocks").get_to(p.icy_bad_blocks);
  return p;
}

}  // namespace ringcast::bench
