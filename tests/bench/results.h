// What viewer processes measure, in the shape they send it to the coordinator: per-class
// counters and histograms, their JSON form (one line over a pipe) and their merge.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "histogram.h"
#include "icy_demuxer.h"
#include "stream_verifier.h"

namespace ringcast::bench {

// One class of viewers: healthy, stalled on purpose, or churning (leaving and joining again).
struct ClassResult {
  std::uint32_t viewers = 0;
  std::uint32_t connected = 0;           // got a 200 and reached the stream
  std::uint32_t connect_failures = 0;    // TCP connect failed
  std::uint32_t http_errors = 0;         // answered with anything but 200, or a bad head
  std::uint32_t server_disconnects = 0;  // closed by the server before the window ended
  // Not yet streaming when the window began (slow accept, SYN retries): excluded from the
  // window's rates and latencies, which would otherwise measure their join burst.
  std::uint32_t late_joins = 0;
  std::uint32_t joins = 0;   // connections opened, first ones and churn's rejoins
  std::uint32_t leaves = 0;  // connections the bench closed for churn before the window ended
  std::uint32_t sessions_without_data = 0;  // churned away before the first stream byte
  // Connections that got two records' worth of stream bytes (any 375 bytes of a good stream
  // hold a whole record) and not one intact record of their own stream.
  std::uint32_t sessions_unverified = 0;
  VerifierCounts counts;             // over the whole run, not only the window
  std::uint64_t bytes_received = 0;  // stream bytes over the whole run
  std::uint64_t bytes_in_window = 0;
  Histogram latency_ns;     // send to receive, records received in the window
  Histogram first_byte_ns;  // connect start to first stream byte, as read
  // From the request's write to the kernel's receive time (SO_TIMESTAMPNS) of the answer's first
  // byte, and of the socket buffer holding its first stream byte: what the relay took, without
  // the time this process's loop spent on other viewers before it read them.
  Histogram answer_rx_ns;
  Histogram stream_rx_ns;
  std::vector<double> window_rates_bps;  // one per viewer, 0 for those that never streamed
  // --icy: the blocks of every connection, the connections answered without icy-metaint, the
  // largest icy-metaint given, and for the viewers with a window rate (the same ones as
  // window_rates_bps) how many saw "bench title N" last by the window's end, at index N (0:
  // none, or another title).
  IcyCounts icy;
  std::uint32_t icy_missing_metaint = 0;
  std::uint32_t icy_metaint = 0;
  std::vector<std::uint32_t> last_title_viewers;

  void merge(ClassResult&& other);
};

struct ProcessResult {
  double window_seconds = 0;
  double bench_cpu_seconds = 0;  // this viewer process, over the window
  ClassResult healthy;
  ClassResult stalled;
  ClassResult churning;

  void merge(ProcessResult&& other);
};

// A viewer process's once-a-second report.
struct Progress {
  std::uint32_t connected = 0;
  std::uint32_t open = 0;
  std::uint32_t failures = 0;  // connect failures and HTTP errors
  std::uint32_t disconnects = 0;
  std::uint64_t bytes = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t skipped = 0;
  std::uint64_t torn = 0;
  std::uint64_t foreign = 0;
  std::uint32_t joins = 0;
  std::uint32_t leaves = 0;
  std::uint64_t icy_titles = 0;
  std::uint64_t icy_bad_blocks = 0;

  void merge(const Progress& other);
};

nlohmann::json to_json(const ProcessResult& result);
ProcessResult process_result_from_json(const nlohmann::json& json);
nlohmann::json to_json(const Progress& progress);
Progress progress_from_json(const nlohmann::json& json);

}  // namespace ringcast::bench
