// The rules of one relayed mount's pull, as a pure state machine: which origin to try, when to
// fail over, how long to back off, when a stream has stalled, when to go back to a preferred
// origin, and when an on-demand pull has outlived its audience. Events in (with `now` passed
// in), actions out; origin_pull.h applies them with libuv. Tested in
// tests/relay/pull_machine_test.cpp.
//
//             start                 answered 200
//   (idle) ─────────► connecting ──────────────────► streaming ──┐ probe due: Probe{i}
//                       │   ▲  │ refused / timeout:               │ probe 200: AdoptProbe
//                       │   │  │ next origin (Connect)            │ lost / stalled:
//                       │   │  ▼                                  │ Connect{0}
//                       │  backing_off ◄── every origin failed ◄──┘
//                       │ (on demand, never streamed, every origin failed: Answer + Stop)
//                       ▼
//                    stopped  ◄── linger over (on demand, nobody listening) from any phase
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ringcast::relay {

// When the next round starts after `failures` rounds in a row failed (every origin tried):
// first_ms, doubling, at most max_ms. 0 failures: at once.
struct RetrySchedule {
  std::uint32_t first_ms = 500;
  std::uint32_t max_ms = 8'000;
  std::uint32_t delay_ms(std::uint32_t failures) const;
};

struct PullSettings {
  std::size_t origins = 1;  // how many, in order of preference (index 0 is the most preferred)
  bool on_demand = true;    // stops linger_ms after the last local listener (else: always on)
  std::uint64_t linger_ms = 10'000;
  std::uint64_t attempt_timeout_ms = 5'000;  // connect + the answer's head, per origin
  std::uint64_t stall_timeout_ms = 10'000;   // streaming, and no byte for this long: lost
  // Streaming from a less preferred origin: the preferred ones are tried again this often, and
  // the first that answers takes the feed over (Icecast-KH's priorities). 0: never.
  std::uint64_t preferred_retry_ms = 15'000;
  RetrySchedule retry;
};

struct PullAction {
  enum class Kind {
    connect,      // abandon any attempt, start one to `origin` (the feed, if any, stays)
    probe,        // while streaming: start a second attempt to the more preferred `origin`
    adopt_probe,  // the probe answered 200: it becomes the feed, the old feed closes
    drop_probe,   // abandon the probe attempt
    close_feed,   // close the streaming connection (stalled)
    answer,       // tell the listeners waiting for the mount: `status` (200: it is there); the
                  // first feed, an on-demand pull's end, an always-on pull's failed rounds
    stop,         // the pull ends (`status`: 404 when no origin has the mount, else 0)
  };
  Kind kind;
  std::size_t origin = 0;
  int status = 0;
  bool operator==(const PullAction&) const = default;
};

class PullMachine {
 public:
  enum class Phase { idle, connecting, streaming, backing_off, stopped };
  static std::string_view phase_name(Phase phase);

  using Actions = std::vector<PullAction>;  // a few per event, never per byte

  explicit PullMachine(PullSettings settings);

  Actions start(std::uint64_t now_ms);
  // The attempt at `origin` got its answer's status (0: no answer: refused, reset, bad head).
  Actions answered(std::size_t origin, int status, std::uint64_t now_ms);
  // The probe at `origin` got its answer's status (0: none).
  Actions probe_answered(std::size_t origin, int status, std::uint64_t now_ms);
  // The feed's connection closed (the origin ended the stream, reset it, or its body was bad).
  Actions lost(std::uint64_t now_ms);
  // Time passes: attempt timeouts, stalls, the end of a back-off, linger, preferred retries.
  // audience: local listeners and HLS sessions; last_bytes_ms: when the feed last brought bytes.
  Actions tick(std::uint64_t now_ms, std::size_t audience, std::uint64_t last_bytes_ms);
  // The operator (or shutdown) ends the pull.
  Actions stop();

  Phase phase() const { return phase_; }
  std::size_t origin() const { return origin_; }  // the one streamed, tried, or next to try
  bool probing() const { return probe_.has_value(); }

  std::uint64_t connects() const { return connects_; }    // 200s that became the feed
  std::uint64_t failures() const { return failures_; }    // attempts that did not
  std::uint64_t failovers() const { return failovers_; }  // feeds from another origin than the last
  std::uint64_t stalls() const { return stalls_; }
  std::uint32_t failed_rounds() const { return failed_rounds_; }

 private:
  void attempt(std::size_t origin, std::uint64_t now_ms, Actions& out);
  void attempt_failed(int status, std::uint64_t now_ms, Actions& out);
  void feed_from(std::size_t origin, std::uint64_t now_ms, Actions& out);
  void feed_lost(std::uint64_t now_ms, Actions& out);
  void probe_failed(std::uint64_t now_ms, Actions& out);
  void end(int status, Actions& out);

  const PullSettings settings_;
  Phase phase_ = Phase::idle;
  std::size_t origin_ = 0;
  std::size_t tried_in_round_ = 0;
  std::uint64_t attempt_since_ms_ = 0;  // connecting: when the attempt started
  std::uint64_t backoff_until_ms_ = 0;
  std::uint64_t streaming_since_ms_ = 0;
  std::uint64_t idle_since_ms_ = 0;  // nobody local since (0: someone is)
  std::uint64_t next_probe_ms_ = 0;
  struct Probe {
    std::size_t origin;
    std::uint64_t since_ms;
  };
  std::optional<Probe> probe_;
  std::optional<std::size_t> fed_from_;  // the origin of the last feed
  int best_status_ = 0;                  // the most telling refusal of this round
  bool answered_ = false;                // fed once, or the waiting listeners were told why not
  std::uint32_t failed_rounds_ = 0;
  std::uint64_t connects_ = 0, failures_ = 0, failovers_ = 0, stalls_ = 0;
};

}  // namespace ringcast::relay
