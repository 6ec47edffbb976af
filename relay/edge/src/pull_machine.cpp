// A relayed mount's pull decisions (pull_machine.h): plain numbers in, actions out.
#include "ringcast/edge/pull_machine.h"

#include <algorithm>
#include <cassert>

namespace ringcast::relay {

namespace {

// Which refusal of a round tells the waiting listeners most: the mount is not there (404),
// then a relay loop (508), then anything else becomes 502.
int rank(int status) {
  if (status == 404) return 3;
  if (status == 508) return 2;
  return 1;
}

int as_answer(int status) {
  return status == 404 || status == 508 ? status : 502;
}

}  // namespace

std::uint32_t RetrySchedule::delay_ms(std::uint32_t failures) const {
  if (failures == 0) return 0;
  std::uint64_t delay = first_ms;
  for (std::uint32_t i = 1; i < failures && delay < max_ms; ++i) delay *= 2;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(delay, max_ms));
}

std::string_view PullMachine::phase_name(Phase phase) {
  switch (phase) {
    case Phase::idle:
      return "idle";
    case Phase::connecting:
      return "connecting";
    case Phase::streaming:
      return "streaming";
    case Phase::backing_off:
      return "retrying";
    case Phase::stopped:
      return "stopped";
  }
  return "?";
}

PullMachine::PullMachine(PullSettings settings) : settings_(settings) {
  assert(settings_.origins > 0);
}

PullMachine::Actions PullMachine::start(std::uint64_t now_ms) {
  Actions out;
  if (phase_ != Phase::idle) return out;
  tried_in_round_ = 0;
  attempt(0, now_ms, out);
  return out;
}

PullMachine::Actions PullMachine::answered(std::size_t origin, int status, std::uint64_t now_ms) {
  Actions out;
  if (phase_ != Phase::connecting || origin != origin_) return out;  // an attempt already given up
  if (status == 200) {
    feed_from(origin, now_ms, out);
  } else {
    attempt_failed(status, now_ms, out);
  }
  return out;
}

PullMachine::Actions PullMachine::probe_answered(std::size_t origin, int status,
                                                 std::uint64_t now_ms) {
  Actions out;
  if (phase_ != Phase::streaming || !probe_ || probe_->origin != origin) return out;
  if (status == 200) {
    // A more preferred origin serves again: it takes the feed over, the old feed closes.
    probe_.reset();
    out.push_back({PullAction::Kind::adopt_probe, origin});
    feed_from(origin, now_ms, out);
  } else {
    probe_failed(now_ms, out);
  }
  return out;
}

PullMachine::Actions PullMachine::lost(std::uint64_t now_ms) {
  Actions out;
  if (phase_ != Phase::streaming) return out;
  feed_lost(now_ms, out);
  return out;
}

PullMachine::Actions PullMachine::tick(std::uint64_t now_ms, std::size_t audience,
                                       std::uint64_t last_bytes_ms) {
  Actions out;
  if (phase_ == Phase::idle || phase_ == Phase::stopped) return out;
  // Linger: an on-demand pull that has served stops linger_ms after its last listener left.
  // Before its first answer it has no listeners yet, only waiters: its first round decides.
  if (settings_.on_demand && answered_) {
    if (audience > 0) {
      idle_since_ms_ = 0;
    } else if (idle_since_ms_ == 0) {
      idle_since_ms_ = now_ms;
    }
    if (idle_since_ms_ != 0 && now_ms - idle_since_ms_ >= settings_.linger_ms) {
      end(0, out);
      return out;
    }
  }
  switch (phase_) {
    case Phase::connecting:
      if (now_ms - attempt_since_ms_ >= settings_.attempt_timeout_ms)
        attempt_failed(0, now_ms, out);
      break;
    case Phase::backing_off:
      if (now_ms >= backoff_until_ms_) {
        tried_in_round_ = 0;
        best_status_ = 0;
        attempt(0, now_ms, out);  // each round starts at the most preferred origin
      }
      break;
    case Phase::streaming: {
      // The feed's own bytes count from when it became the feed, not from an earlier one.
      const std::uint64_t last = std::max(last_bytes_ms, streaming_since_ms_);
      if (now_ms - last >= settings_.stall_timeout_ms) {
        ++stalls_;
        out.push_back({PullAction::Kind::close_feed, origin_});
        feed_lost(now_ms, out);
        break;
      }
      if (probe_) {
        if (now_ms - probe_->since_ms >= settings_.attempt_timeout_ms) probe_failed(now_ms, out);
      } else if (next_probe_ms_ != 0 && now_ms >= next_probe_ms_) {
        probe_ = Probe{0, now_ms};
        out.push_back({PullAction::Kind::probe, 0});
      }
      break;
    }
    case Phase::idle:
    case Phase::stopped:
      break;
  }
  return out;
}

PullMachine::Actions PullMachine::stop() {
  Actions out;
  if (phase_ != Phase::stopped) end(0, out);
  return out;
}

void PullMachine::attempt(std::size_t origin, std::uint64_t now_ms, Actions& out) {
  phase_ = Phase::connecting;
  origin_ = origin;
  attempt_since_ms_ = now_ms;
  out.push_back({PullAction::Kind::connect, origin});
}

void PullMachine::attempt_failed(int status, std::uint64_t now_ms, Actions& out) {
  ++failures_;
  if (best_status_ == 0 || rank(status) > rank(best_status_)) best_status_ = status;
  ++tried_in_round_;
  if (tried_in_round_ < settings_.origins) {
    attempt((origin_ + 1) % settings_.origins, now_ms, out);  // fail over at once
    return;
  }
  // Every origin failed this round.
  if (settings_.on_demand && !answered_) {
    // Nobody is served yet: the waiting listeners get the origins' answer now.
    end(as_answer(best_status_), out);
    return;
  }
  if (connects_ == 0) {
    // An always-on pull that has never streamed: whoever waits for its mount hears this
    // round's answer rather than waiting for a feed that may never come.
    out.push_back({PullAction::Kind::answer, origin_, as_answer(best_status_)});
  }
  ++failed_rounds_;
  phase_ = Phase::backing_off;
  backoff_until_ms_ = now_ms + settings_.retry.delay_ms(failed_rounds_);
}

void PullMachine::feed_from(std::size_t origin, std::uint64_t now_ms, Actions& out) {
  phase_ = Phase::streaming;
  ++connects_;
  if (fed_from_ && *fed_from_ != origin) ++failovers_;
  fed_from_ = origin;
  origin_ = origin;
  streaming_since_ms_ = now_ms;
  failed_rounds_ = 0;
  tried_in_round_ = 0;
  best_status_ = 0;
  next_probe_ms_ =
      origin > 0 && settings_.preferred_retry_ms > 0 ? now_ms + settings_.preferred_retry_ms : 0;
  if (connects_ == 1) out.push_back({PullAction::Kind::answer, origin, 200});  // the first feed
  answered_ = true;
}

void PullMachine::feed_lost(std::uint64_t now_ms, Actions& out) {
  if (probe_) {
    probe_.reset();
    out.push_back({PullAction::Kind::drop_probe});
  }
  tried_in_round_ = 0;
  best_status_ = 0;
  attempt(0, now_ms, out);  // the listeners wait out the mount's grace meanwhile
}

void PullMachine::probe_failed(std::uint64_t now_ms, Actions& out) {
  ++failures_;
  const std::size_t next = probe_->origin + 1;
  out.push_back({PullAction::Kind::drop_probe});
  if (next < origin_) {
    probe_ = Probe{next, now_ms};
    out.push_back({PullAction::Kind::probe, next});
    return;
  }
  probe_.reset();
  next_probe_ms_ = now_ms + settings_.preferred_retry_ms;
}

void PullMachine::end(int status, Actions& out) {
  if (!answered_) {
    answered_ = true;
    out.push_back({PullAction::Kind::answer, origin_, status == 0 ? 502 : status});
  }
  phase_ = Phase::stopped;
  probe_.reset();
  out.push_back({PullAction::Kind::stop, origin_, status});
}

}  // namespace ringcast::relay
