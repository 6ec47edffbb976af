// The bench's configuration: parsed from the command line, validated (loopback only, hard caps)
// and shared read-only by every process of a run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringcast::bench {

// relay: the real relay; limit: an in-tool libuv writer (the ceiling); bare: an in-tool writer
// with plain write(2) from a paced loop (the floor: the kernel's send path alone).
enum class Mode { kRelay, kLimit, kBare };

struct Options {
  Mode mode = Mode::kRelay;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  // A relay tree: viewers read from these relays (edges of the one at `port`, which the
  // broadcaster feeds), viewer k from viewer_ports[k % size]. Empty: from `port`.
  std::vector<std::uint16_t> viewer_ports;
  std::string mount = "/bench.ts";
  // Many mounts: one broadcaster each, named from `mount` (mount_path); viewers round-robin.
  std::uint32_t mounts = 1;
  double source_ramp_per_second = 1000;  // broadcaster connects per second
  std::string password = "hackme";
  std::string content_type = "video/mp2t";
  pid_t relay_pid = 0;  // 0: do not sample

  std::uint32_t viewers = 20;
  double ramp_per_second = 1000;
  std::uint32_t processes = 0;  // 0: as few as the descriptor limit allows
  std::uint64_t rate_bps = 4'000'000;
  std::uint32_t chunk_bytes = 1316;
  // With --mounts: broadcaster i writes mixed_chunks[i % size] bytes at a time (empty: chunk_bytes).
  std::vector<std::uint32_t> mixed_chunks;
  double warmup_seconds = 2;
  double duration_seconds = 10;
  double settle_seconds = 0.5;  // the source streams this long before viewers connect

  std::uint32_t stall_viewers = 0;
  double stall_after_seconds = 1;  // from the start of the measured window
  double stall_for_seconds = 3;

  // Soak: churning viewers leave and a fresh connection joins in their place, `churn_per_second`
  // leaves over all processes, from the end of the ramp to the end of the window.
  double churn_per_second = 0;
  std::uint32_t churn_viewers = 0;      // 0 with churn: a quarter of the viewers
  double source_reconnect_seconds = 0;  // 0: the broadcaster never reconnects
  double max_rss_growth_kib = -1;       // < 0: no bound on the server's RSS after warm-up
  std::string series_path;              // per-second CSV of the run, if set

  // ICY metadata: viewers send `Icy-MetaData: 1` and take the blocks out of what they read;
  // every `title_every_seconds` (0: never) each mount gets a new title through updinfo.
  bool icy = false;
  double title_every_seconds = 0;

  std::uint32_t limit_burst_bytes = 64 * 1024;
  double limit_flush_ms = 0;  // limit mode: write to viewers every this often (0: every chunk)
  std::uint32_t bare_write_bytes = 16 * 1024;
  // The longest time the relay holds bytes to write them together (ringcast's --latency-budget):
  // a window may hold one such write fewer, and the rate check allows for it. 0: one source write.
  double relay_write_ms = 0;  // bare mode: each viewer is written once per this many stream bytes
  // limit and bare modes: an in-tool writer serves the viewers instead of a relay.
  bool in_tool_writer() const { return mode != Mode::kRelay; }
  bool expect_clean = false;

  // Derived: seconds from the first viewer's connect to the end of the measured window.
  double ramp_seconds() const { return viewers / ramp_per_second; }
  bool is_stalled(std::uint32_t viewer) const;
  // With one mount, `mount` itself; with M, <stem>-<index><ext> (/bench.ts: /bench-0.ts ...).
  std::string mount_path(std::uint32_t index) const;
  // What a relay cuts at packet boundaries (the relay's own list): video/mp2t and its aliases.
  bool is_mpeg_ts() const;
  // Viewer k watches mount k % M.
  std::uint32_t mount_of(std::uint32_t viewer) const { return viewer % mounts; }
  // Churning viewers are spread over the viewers that do not stall; never both.
  bool is_churning(std::uint32_t viewer) const;
};

// Hard caps: the bench is bounded in time and count whatever it is asked.
inline constexpr std::uint32_t kMaxViewers = 100'000;
inline constexpr std::uint32_t kMaxViewersPerProcess = 19'900;
inline constexpr double kMaxDurationSeconds = 3600;
inline constexpr std::uint32_t kMaxMounts = 10'000;

// Parses argv; on error or --help prints to stderr/stdout and returns the exit code to use.
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
};
ParseOutcome parse_options(int argc, char** argv);

// True for 127.0.0.0/8, ::1 and "localhost": the bench never sends traffic elsewhere.
bool is_loopback_host(const std::string& host);

}  // namespace ringcast::bench
