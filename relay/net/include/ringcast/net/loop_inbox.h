// A loop's inbox: the one way other threads hand it work. A moodycamel ConcurrentQueue plus a
// uv_async_t; the sender wakes the loop only when it has not been woken for earlier work yet,
// and the loop drains whole batches.
#pragma once

#include <concurrentqueue/concurrentqueue.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <system_error>

#include "ringcast/uv/handles.h"

namespace ringcast::relay {

template <typename Event>
class LoopInbox {
 public:
  using Handler = std::function<void(Event&)>;

  LoopInbox() = default;
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;

  // On the receiving loop's thread, before any sender posts. Events for which `urgent` holds
  // are handled first in each drained batch (a writer waiting for ring room, for one).
  std::error_code open(uv_loop_t* loop, Handler handler, bool (*urgent)(const Event&) = nullptr) {
    handler_ = std::move(handler);
    urgent_ = urgent;
    return async_.init<&LoopInbox::drain>(loop, this);
  }
  // On the receiving loop's thread; the inbox drops whatever arrives afterwards.
  void close() {
    closed_.store(true);
    async_.close();
  }

  moodycamel::ProducerToken make_producer_token() { return moodycamel::ProducerToken(queue_); }

  // Any thread. The token must belong to the calling thread.
  void post(moodycamel::ProducerToken& token, Event&& event) {
    queue_.enqueue(token, std::move(event));
    wake();
  }
  // Any thread, without a token (rare senders: shutdown, tests).
  void post(Event&& event) {
    queue_.enqueue(std::move(event));
    wake();
  }

 private:
  static constexpr std::size_t kBatch = 64;

  void wake() {
    // acq_rel: pairs with the receiver's exchange(false) in drain(); whoever flips the flag
    // from false to true owes one uv_async_send, and later posts ride on it.
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) async_.send();
  }

  void drain() {
    // Clear first: a post racing with this drain either lands in this batch or wakes us again.
    wake_pending_.exchange(false, std::memory_order_acq_rel);
    std::array<Event, kBatch> batch;
    std::size_t n;
    while ((n = queue_.try_dequeue_bulk(consumer_, batch.begin(), batch.size())) > 0) {
      if (urgent_ != nullptr) {
        for (std::size_t i = 0; i < n; ++i) {
          if (!urgent_(batch[i])) continue;
          if (!closed_.load(std::memory_order_relaxed)) handler_(batch[i]);
          batch[i] = Event{};  // handled: the second pass skips it
        }
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (!closed_.load(std::memory_order_relaxed)) handler_(batch[i]);  // same thread as close()
        batch[i] = Event{};  // drop references (e.g. to streams) now, not at the next batch
      }
    }
  }

  moodycamel::ConcurrentQueue<Event> queue_;
  moodycamel::ConsumerToken consumer_{queue_};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  uv::Async async_;
  Handler handler_;
  bool (*urgent_)(const Event&) = nullptr;
};

}  // namespace ringcast::relay
