// The fan-out's rules for one loop's viewers of one mount. Pure: every input is an argument,
// every effect an action, so the rules are unit-tested with plain numbers (tests/relay).
#include "ringcast/core/lane.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "ringcast/ringbuf/byte_ring.h"

namespace ringcast::relay {

Lane::Lane(const Settings& settings) : settings_(settings) {
  assert(std::has_single_bit(settings_.capacity));
  if (settings_.max_lag_bytes == 0 || settings_.max_lag_bytes > settings_.capacity / 2) {
    settings_.max_lag_bytes = settings_.capacity / 2;
  }
  settings_.max_write_bytes =
      std::clamp<std::size_t>(settings_.max_write_bytes, 1, settings_.capacity / 4);
  // Buckets of capacity/32: in-flight writes span at most one ring (the writer never passes
  // the gate), so 64 buckets never alias two positions a lap apart.
  bucket_shift_ = static_cast<unsigned>(std::countr_zero(settings_.capacity)) - 5;
}

ViewerId Lane::add(std::uint64_t position, const JoinOptions& options) {
  ViewerId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<ViewerId>(viewers_.size());
    viewers_.emplace_back();
  }
  // The least populated slot, so every step of the wheel writes to about as many viewers.
  std::size_t slot = 0;
  for (std::size_t k = 1; k < kSlots; ++k) {
    if (slots_[k].viewers.size() < slots_[slot].viewers.size()) slot = k;
  }
  Viewer& v = viewers_[id];
  v = Viewer{};
  v.position = position;
  v.metaint = options.metaint;
  v.until_block = options.until_block != 0 && options.until_block <= options.metaint ? options.until_block
                                                                                      : options.metaint;
  v.max_lag = options.end != kNoPosition ? settings_.capacity
              : options.max_lag_bytes != 0
                  ? std::min<std::uint64_t>(options.max_lag_bytes, settings_.capacity)
                  : settings_.max_lag_bytes;
  v.end = options.end;
  v.live = true;
  v.slot = static_cast<std::uint8_t>(slot);
  v.slot_index = static_cast<std::uint32_t>(slots_[slot].viewers.size());
  slots_[slot].viewers.push_back(id);
  ++live_;
  return id;
}

void Lane::start(ViewerId id, const RingView& ring, LaneActions& out) {
  Viewer& v = viewers_[id];
  assert(v.live);
  v.started = true;
  service(id, ring, out);
}

void Lane::pause(ViewerId id) {
  Viewer& v = viewers_[id];
  assert(v.live && !v.in_flight);
  v.started = false;
}

void Lane::remove(ViewerId id) {
  Viewer& v = viewers_[id];
  assert(v.live);
  if (v.in_flight) bucket_remove(v.in_flight_from);
  auto& list = slots_[v.slot].viewers;
  assert(list[v.slot_index] == id);
  list[v.slot_index] = list.back();
  viewers_[list[v.slot_index]].slot_index = v.slot_index;
  list.pop_back();
  v.live = false;
  free_.push_back(id);
  --live_;
}

std::uint64_t Lane::period_for(const LoopLoad& load, std::uint64_t rate) const {
  const double stretch = std::clamp(load.busy / kStretchFromBusy, 1.0, kMaxStretch);
  const std::uint64_t budget_us = std::uint64_t{settings_.latency_budget_ms} * 1000;
  std::uint64_t full = std::min(budget_us, kUnknownRatePeriodUs);
  if (rate > 0) {
    const double target_us =
        settings_.write_target_bytes * stretch * 1e6 / static_cast<double>(rate);
    full = std::min<std::uint64_t>(budget_us, static_cast<std::uint64_t>(target_us));
  }
  std::uint64_t period = full;
  if (settings_.full_audience > 0 && load.audience < settings_.full_audience) {
    period = full * load.audience / settings_.full_audience;
  }
  return period < kMinPeriodUs ? 0 : period;
}

void Lane::observe(std::uint64_t head, std::uint64_t now_us) {
  if (head != last_head_) {
    last_head_ = head;
    last_head_change_us_ = now_us;
  }
  if (window_start_us_ == 0 || head < window_head_) {
    window_start_us_ = now_us;
    window_head_ = head;
    return;
  }
  const std::uint64_t elapsed = now_us - window_start_us_;
  if (elapsed < kRateWindowUs) return;
  const std::uint64_t measured = (head - window_head_) * 1'000'000 / elapsed;
  rate_ =
      rate_ == 0 ? measured : (rate_ + measured) / 2;  // smoothed: a pause moves it, a blip less
  window_start_us_ = now_us;
  window_head_ = head;
}

void Lane::commit(const RingView& ring, const LoopLoad& load, std::uint64_t now_us,
                  LaneActions& out) {
  observe(ring.head, now_us);
  period_us_ = period_for(load, rate_);
  if (period_us_ == 0) {
    next_due_us_ = 0;
    for (Slot& slot : slots_) service_slot(slot, ring, out);
    return;
  }
  // The wheel writes; a commit only starts it when it was stopped (nothing was waiting).
  if (next_due_us_ == 0) next_due_us_ = now_us + step_us(slots_per_step());
}

std::size_t Lane::slots_per_step() const {
  // A step of `slots` slots writes about live_ * slots / kSlots viewers.
  const std::uint64_t most = period_us_ / (kWriteCostUs * kStepShareOfPeriod);
  std::size_t slots = 1;
  const auto too_few = [&] { return live_ * slots < kMinWritesPerStep * kSlots; };
  const auto room_for_twice = [&] { return live_ * slots * 2 <= most * kSlots; };
  while (slots < kSlots && too_few() && room_for_twice()) slots *= 2;
  return slots;
}

std::uint64_t Lane::quiet_after_us() const {
  return kQuietFlushUs + period_us_;
}

std::uint64_t Lane::step_us(std::size_t slots) const {
  return std::max<std::uint64_t>(period_us_ * slots / kSlots, 1);
}

void Lane::tick(const RingView& ring, const LoopLoad& load, std::uint64_t now_us,
                LaneActions& out) {
  observe(ring.head, now_us);
  period_us_ = period_for(load, rate_);
  if (partial_held_ && now_us >= last_head_change_us_ + quiet_after_us()) {
    // The source went quiet inside a packet: nothing is about to complete it.
    partial_held_ = false;
    quiet_flush_ = true;
    for (Slot& slot : slots_) service_slot(slot, ring, out);
    quiet_flush_ = false;
  }
  if (period_us_ == 0) {
    next_due_us_ = 0;  // every commit is written at once
    return;
  }
  if (next_due_us_ == 0) return;
  const std::size_t slots = slots_per_step();
  const std::uint64_t step = step_us(slots);
  // At most one round: a loop that fell behind catches up once, not round by round.
  for (std::size_t n = 0; n < kSlots && now_us >= next_due_us_; n += slots) {
    for (std::size_t k = 0; k < slots; ++k) {
      service_slot(slots_[next_slot_], ring, out);
      next_slot_ = (next_slot_ + 1) % kSlots;
    }
    next_due_us_ += step;
  }
  if (now_us >= next_due_us_) next_due_us_ = now_us + step;
  // Stop while nothing waits anywhere; the next commit starts the wheel again.
  bool waiting = false;
  for (const Slot& slot : slots_) waiting = waiting || slot_has_work(slot, ring.head);
  if (!waiting) next_due_us_ = 0;
}

bool Lane::slot_has_work(const Slot& slot, std::uint64_t head) const {
  // Held: the bytes for the slot's viewers are read at its tick, so the head cannot say.
  return !slot.viewers.empty() && (held_ || slot.serviced_head != head);
}

void Lane::hold_source(bool held, std::uint64_t now_us) {
  held_ = held;
  if (held_ && next_due_us_ == 0 && period_us_ > 0 && live_ > 0 && !finishing_) {
    next_due_us_ = now_us + step_us(slots_per_step());
  }
}

std::optional<std::uint64_t> Lane::next_tick_us() const {
  if (live_ == 0) return std::nullopt;
  std::optional<std::uint64_t> next;
  if (partial_held_) next = last_head_change_us_ + quiet_after_us();
  if (period_us_ == 0 || next_due_us_ == 0) return next;
  // Empty slots need no tick: the first one with viewers, from the next due.
  const std::size_t slots = slots_per_step();
  const std::uint64_t step = step_us(slots);
  for (std::size_t n = 0; n < kSlots; ++n) {
    if (!slots_[(next_slot_ + n) % kSlots].viewers.empty()) {
      const std::uint64_t due = next_due_us_ + (n / slots) * step;
      return next ? std::min(*next, due) : due;
    }
  }
  return next;
}

void Lane::service_slot(Slot& slot, const RingView& ring, LaneActions& out) {
  slot.serviced_head = ring.head;
  for (const ViewerId id : slot.viewers) {
    Viewer& v = viewers_[id];
    if (v.in_flight) {
      v.missed_turn = true;
    } else {
      service(id, ring, out);
    }
  }
}

void Lane::service(ViewerId id, const RingView& ring, LaneActions& out) {
  Viewer& v = viewers_[id];
  if (!v.started || v.in_flight || v.closing) return;
  v.missed_turn = false;
  v.capped = false;
  const Framing& framing = ring.framing;
  if (v.position >= v.end) {
    v.closing = true;  // a bounded read is complete
    out.push_back({LaneAction::Kind::finish, id, v.position, v.position});
    return;
  }
  if (v.position < ring.oldest || ring.head - v.position > v.max_lag) {
    // Invariant 1 is kept by never reading below `oldest`; invariant 2 by never waiting here.
    if (v.end != kNoPosition || settings_.slow_action == SlowViewerAction::disconnect) {
      v.closing = true;
      out.push_back({LaneAction::Kind::close, id, v.position, v.position,
                     v.end != kNoPosition ? CloseReason::overwritten : CloseReason::slow});
      return;
    }
    // A viewer left inside a packet first gets the rest of it, so the skip never splices two
    // packets (possible while the rest is readable: the lag limit is half the ring).
    const std::uint64_t packet_end = framing.align_up(v.position);
    if (v.position >= framing.origin && packet_end != v.position && v.position >= ring.oldest &&
        packet_end <= ring.head) {
      issue_write(id, packet_end, out);
      return;
    }
    const std::uint64_t target = skip_target(ring);
    out.push_back({LaneAction::Kind::skip, id, v.position, target});
    v.position = target;
    // On: a skip to a keyframe has its backlog to send at once.
  }
  // The previous source's cut last packet is never sent: a new source starts whole packets.
  if (v.position >= framing.cut_from && v.position < framing.origin) v.position = framing.origin;

  std::uint64_t end = std::min<std::uint64_t>({ring.head, v.position + settings_.max_write_bytes, v.end});
  if (v.position < framing.cut_from) end = std::min(end, framing.cut_from);
  // ICY: at most one metadata block per write, so a write is never more than four buffers
  // (two ring parts, split once around the block), as many as libuv queues without allocating.
  if (v.metaint != 0) end = std::min<std::uint64_t>(end, v.position + v.until_block + v.metaint - 1);
  if (!finishing_ && !quiet_flush_) {
    const std::uint64_t whole = framing.align_down(end);
    if (whole > v.position) {
      end = whole;
    } else if (end == ring.head) {
      end = v.position;  // less than the rest of a packet: it waits for its rest
    }
    // else: --max-write-bytes is below a packet; whole packets cannot be kept
    if (end < ring.head && ring.head - end < framing.packet_size) partial_held_ = true;
  }
  if (end == v.position) {
    if (finishing_ && end == ring.head) {
      v.closing = true;
      out.push_back({LaneAction::Kind::finish, id, end, end});
    }
    return;
  }
  // More whole packets wait behind this write (it was cut by max_write_bytes): keep going.
  v.capped = ring.head - end >= framing.packet_size;
  issue_write(id, end, out);
}

void Lane::issue_write(ViewerId id, std::uint64_t end, LaneActions& out) {
  Viewer& v = viewers_[id];
  // In flight from the moment it is decided: the gate covers it before anyone reads it.
  v.in_flight = true;
  v.in_flight_from = v.position;
  v.in_flight_to = end;
  bucket_add(v.position);
  LaneAction write{LaneAction::Kind::write, id, v.position, end};
  if (v.metaint != 0) {
    const std::uint64_t n = end - v.position;
    v.until_block_at_issue = v.until_block;
    if (n >= v.until_block) {
      assert(n - v.until_block < v.metaint);
      write.block_after = v.position + v.until_block;
      v.until_block = v.metaint - static_cast<std::uint32_t>(n - v.until_block);
    } else {
      v.until_block -= static_cast<std::uint32_t>(n);
    }
  }
  out.push_back(write);
  v.position = end;
}

void Lane::wrote(ViewerId id, std::uint64_t accepted, const RingView& ring, LaneActions& out) {
  Viewer& v = viewers_[id];
  if (!v.in_flight) return;  // evicted after the write was decided: its close follows
  assert(accepted >= v.in_flight_from && accepted <= v.in_flight_to);
  if (accepted == v.in_flight_to) {
    complete(id, ring, out);
    return;
  }
  progressed(id, accepted);
}

void Lane::write_done(ViewerId id, const RingView& ring, LaneActions& out) {
  if (!viewers_[id].in_flight) return;  // evicted: its close is on its way
  complete(id, ring, out);
}

void Lane::complete(ViewerId id, const RingView& ring, LaneActions& out) {
  Viewer& v = viewers_[id];
  bucket_remove(v.in_flight_from);
  v.in_flight = false;
  // A viewer that missed its turn, has a backlog (its last write was capped), reads a bounded
  // range or belongs to an ended stream goes on at once; the rest wait for their slot.
  if (v.missed_turn || v.capped || finishing_ || v.end != kNoPosition) service(id, ring, out);
}

void Lane::lapped(ViewerId id, const RingView& ring, LaneActions& out) {
  Viewer& v = viewers_[id];
  if (!v.in_flight) return;
  bucket_remove(v.in_flight_from);
  v.in_flight = false;
  v.until_block = v.until_block_at_issue;  // nothing was sent: the block is still to come
  if (v.end != kNoPosition) {
    v.closing = true;  // a bounded read cannot jump: its client gets a short body
    out.push_back({LaneAction::Kind::close, id, v.in_flight_from, v.in_flight_from, CloseReason::overwritten});
    return;
  }
  const std::uint64_t target = skip_target(ring);
  out.push_back({LaneAction::Kind::skip, id, v.in_flight_from, target});
  v.position = target;
}

std::uint64_t Lane::skip_target(const RingView& ring) const {
  const std::uint64_t live_edge = std::max(ring.framing.align_down(ring.head), ring.oldest);
  // Half the lag limit: a viewer put there has room to fall behind before it is slow again.
  if (ring.keyframe != kNoPosition && ring.keyframe >= ring.oldest && ring.keyframe <= live_edge &&
      ring.head - ring.keyframe <= settings_.max_lag_bytes / 2) {
    return ring.keyframe;
  }
  return live_edge;
}

void Lane::progressed(ViewerId id, std::uint64_t accepted) {
  Viewer& v = viewers_[id];
  if (!v.in_flight || accepted <= v.in_flight_from) return;
  bucket_remove(v.in_flight_from);
  v.in_flight_from = std::min(accepted, v.in_flight_to);
  bucket_add(v.in_flight_from);
}

void Lane::evict_below(std::uint64_t position, LaneActions& out) {
  if (gate() >= position) return;
  // Invariant 2: the writer never waits for a viewer. One whose socket has not taken the bytes
  // at `position` is stalled; closing it releases the memory at once (the fd closes, so the
  // kernel never reads the ring for it again). The same walk makes the gate exact again,
  // whatever the buckets' lower bound had become, so it rises past `position` once nothing
  // pins below it (a bucket's floor alone might not).
  std::uint64_t lowest = UINT64_MAX;
  for (ViewerId id = 0; id < viewers_.size(); ++id) {
    Viewer& v = viewers_[id];
    if (!v.live || !v.in_flight) continue;
    if (v.closing || v.in_flight_from >= position) {
      lowest = std::min(lowest, v.in_flight_from);
      continue;
    }
    v.closing = true;
    bucket_remove(v.in_flight_from);
    v.in_flight = false;
    out.push_back(
        {LaneAction::Kind::close, id, v.in_flight_from, v.in_flight_from, CloseReason::stalled});
  }
  lowest_bucket_ = lowest == UINT64_MAX ? UINT64_MAX : lowest >> bucket_shift_;
  exact_floor_ = lowest;
}

void Lane::finish(const RingView& ring, LaneActions& out) {
  finishing_ = true;
  next_due_us_ = 0;
  for (Slot& slot : slots_) {
    for (const ViewerId id : slot.viewers) service(id, ring, out);
  }
}

std::uint64_t Lane::gate() const {
  if (in_flight_count_ == 0) return ringbuf::kNoGate;
  // Scan up from a known lower bound; at most kGateBuckets steps, since live buckets span less.
  while (bucket_count_[lowest_bucket_ % kGateBuckets] == 0) ++lowest_bucket_;
  return std::max(lowest_bucket_ << bucket_shift_, exact_floor_);
}

void Lane::bucket_add(std::uint64_t position) {
  const std::uint64_t bucket = position >> bucket_shift_;
  ++bucket_count_[bucket % kGateBuckets];
  ++in_flight_count_;
  lowest_bucket_ = std::min(lowest_bucket_, bucket);
  exact_floor_ = std::min(exact_floor_, position);
}

void Lane::bucket_remove(std::uint64_t position) {
  const std::uint64_t bucket = position >> bucket_shift_;
  assert(bucket_count_[bucket % kGateBuckets] > 0 && in_flight_count_ > 0);
  --bucket_count_[bucket % kGateBuckets];
  if (--in_flight_count_ == 0) {
    lowest_bucket_ = UINT64_MAX;
    exact_floor_ = UINT64_MAX;
  }
}

}  // namespace ringcast::relay
