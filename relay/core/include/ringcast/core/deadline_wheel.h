// A hashed timing wheel of deadlines: each item carries its hook, sits in the slot of the tick
// its deadline falls in, and is visited when that tick comes, not at every tick. What a loop's
// housekeeping uses to look only at the connections whose time has come (a head that took too
// long, a silent source, a stalled viewer) instead of walking all of them four times a second.
// Pure: the caller passes the time; one thread; no allocation after construction.
//
//   DeadlineWheel<Connection> wheel(250, 256, now_ms);
//   wheel.schedule(connection.deadline_hook(), now_ms + 15'000);
//   wheel.expire(now_ms, [](Connection& due) { ... schedule again, or let it be });
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast::relay {

template <typename T>
class DeadlineWheel;

// Lives in the item; unlinks itself when destroyed, so an item freed while scheduled leaves no
// dangling link behind.
template <typename T>
class WheelHook {
 public:
  explicit WheelHook(T& owner) : owner_(&owner) {}
  WheelHook(const WheelHook&) = delete;
  WheelHook& operator=(const WheelHook&) = delete;
  ~WheelHook() { unlink(); }

  bool scheduled() const { return next_ != nullptr; }

 private:
  friend class DeadlineWheel<T>;
  WheelHook() = default;  // a slot's sentinel

  void unlink() {
    if (next_ == nullptr) return;
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }
  void link_before(WheelHook& at) {
    prev_ = at.prev_;
    next_ = &at;
    at.prev_->next_ = this;
    at.prev_ = this;
  }

  T* owner_ = nullptr;
  WheelHook* prev_ = nullptr;
  WheelHook* next_ = nullptr;
  std::uint64_t due_ms_ = 0;
};

template <typename T>
class DeadlineWheel {
 public:
  // tick_ms: the granularity (deadlines are met at the first expire() at or after the tick
  // boundary that follows them); slots: how many ticks the wheel spans before an item is
  // visited early and put back (a deadline further out costs one visit per turn).
  DeadlineWheel(std::uint64_t tick_ms, std::size_t slots, std::uint64_t now_ms)
      : tick_ms_(tick_ms),
        slot_count_(slots),
        slots_(new WheelHook<T>[slots]),
        done_tick_(now_ms / tick_ms) {
    assert(tick_ms > 0 && slots > 0);
    for (std::size_t i = 0; i < slot_count_; ++i) slots_[i].prev_ = slots_[i].next_ = &slots_[i];
  }
  DeadlineWheel(const DeadlineWheel&) = delete;
  DeadlineWheel& operator=(const DeadlineWheel&) = delete;
  ~DeadlineWheel() {
    for (std::size_t i = 0; i < slot_count_; ++i) {
      while (slots_[i].next_ != &slots_[i]) slots_[i].next_->unlink();
    }
  }

  // Due at due_ms (or at the next tick, if that is already past); moves the hook if it was
  // scheduled.
  void schedule(WheelHook<T>& hook, std::uint64_t due_ms) {
    hook.unlink();
    hook.due_ms_ = due_ms;
    // The first tick boundary at or after due_ms, never one expire() has already passed.
    std::uint64_t tick = (due_ms + tick_ms_ - 1) / tick_ms_;
    if (tick <= done_tick_) tick = done_tick_ + 1;
    hook.link_before(slots_[tick % slot_count_]);
  }
  void cancel(WheelHook<T>& hook) { hook.unlink(); }

  // Calls due(item) for each item whose deadline is at or before now_ms, each unscheduled
  // first: due() may schedule it again (or another), cancel others, or free it. Items of the
  // visited slots that are not due yet (a turn or more away) stay where they are.
  template <typename Due>
  void expire(std::uint64_t now_ms, Due&& due) {
    const std::uint64_t now_tick = now_ms / tick_ms_;
    if (now_tick <= done_tick_) return;
    const std::uint64_t ticks = now_tick - done_tick_;
    const std::uint64_t first = ticks > slot_count_ ? now_tick - slot_count_ + 1 : done_tick_ + 1;
    done_tick_ = now_tick;  // from here on, schedule() files nothing in the slots visited below
    for (std::uint64_t tick = first; tick <= now_tick; ++tick) {
      WheelHook<T>& slot = slots_[tick % slot_count_];
      // Move the slot's items to a list of their own: what due() schedules lands in later slots,
      // and what it cancels leaves this list.
      WheelHook<T> visiting;
      visiting.prev_ = visiting.next_ = &visiting;
      while (slot.next_ != &slot) {
        WheelHook<T>& hook = *slot.next_;
        hook.unlink();
        hook.link_before(visiting);
      }
      while (visiting.next_ != &visiting) {
        WheelHook<T>& hook = *visiting.next_;
        hook.unlink();
        if (hook.due_ms_ > now_ms) {
          hook.link_before(slot);  // not this turn's
          continue;
        }
        due(*hook.owner_);
      }
      visiting.prev_ = visiting.next_ = nullptr;  // empty: nothing to unlink
    }
  }

 private:
  std::uint64_t tick_ms_;
  std::size_t slot_count_;
  std::unique_ptr<WheelHook<T>[]> slots_;  // each a sentinel: a circular list of its items
  std::uint64_t done_tick_;                // every tick up to here has been expired
};

}  // namespace ringcast::relay
