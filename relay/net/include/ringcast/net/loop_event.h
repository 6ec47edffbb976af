// What crosses between loops (LoopEvent), and what a mount needs from the loop it runs on
// (LoopHost): Stream talks to its loops through these two, never through Worker itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringcast/core/lane.h"

namespace ringcast::relay {

struct AdminTask;
class Stream;

// LoopEvent::position flags of an accept event.
inline constexpr std::uint64_t kAcceptOverLimit = 1;  // answer 503 (--max-connections)
inline constexpr std::uint64_t kAcceptAdmin = 2;      // accepted on the admin listener
// LoopEvent::position of a move_viewers event without a stream: only viewers whose own mount
// (the one they asked for) is the target's.
inline constexpr std::uint64_t kMoveHome = 1;

struct LoopEvent {
  enum class Kind : std::uint8_t {
    none,
    accept,         // fd: a connection accepted by the acceptor, now this loop's
    commit,         // stream: new bytes for this loop's lane
    make_room,      // stream, position: the writer needs memory up to position; evict below it
    resume_source,  // stream: room was made, the paused source may read again
    stream_ended,   // stream: grace is over; finish this lane's viewers
    admin_task,     // task: run an admin task here (list or kick)
    admin_done,     // task: every loop ran it; answer the client that asked
    // stream -> target: this loop's viewers of stream hear target from now on (a fallback, an
    // admin's moveclients). No stream, with position kMoveHome: every viewer whose own mount is
    // target's goes back to it (fallback-override).
    move_viewers,
    // name, position: an edge's pull of mount `name` has its answer (position: the HTTP status,
    // 200 once the mount is in the registry); the listeners this loop holds for it go on.
    origin_answer,
    start_pull,  // name: start an always-on pull of this mount (a static relay) on this loop
    stop_pull,   // name: this loop's pull of the mount, if any, stops (its master no longer lists it)
    drain,          // shutdown, phase 1: close every connection
    stop,           // shutdown, phase 2: close the loop's handles
  };
  LoopEvent() = default;
  LoopEvent(Kind kind_, int fd_ = -1, std::shared_ptr<Stream> stream_ = {},
            std::uint64_t position_ = 0, std::shared_ptr<AdminTask> task_ = {},
            std::shared_ptr<Stream> target_ = {})
      : kind(kind_),
        fd(fd_),
        stream(std::move(stream_)),
        position(position_),
        task(std::move(task_)),
        target(std::move(target_)) {}

  Kind kind = Kind::none;
  int fd = -1;
  std::shared_ptr<Stream> stream;
  std::uint64_t position = 0;
  std::shared_ptr<AdminTask> task;
  std::shared_ptr<Stream> target;  // move_viewers
  std::shared_ptr<const std::string> name;  // origin_answer
};

// A worker loop as a mount's lanes see it. Implemented by Worker; tests may fake it.
class LoopHost {
 public:
  virtual std::size_t index() const = 0;
  virtual LoopLoad load() const = 0;
  virtual std::uint64_t now_us() const = 0;
  // Wall time (Unix ms): keyframes' and HLS segments' times, a timeshift's distance from live.
  virtual std::uint64_t now_unix_ms() const = 0;
  // Post to another loop's inbox (this loop's producer token).
  virtual void post_to(std::size_t worker, LoopEvent&& event) = 0;
  // Call stream->on_tick(*this) at due_us (monotonic microseconds), or soon after.
  virtual void schedule_tick(std::shared_ptr<Stream> stream, std::uint64_t due_us) = 0;
  // The paused sources of `stream` on this loop may read again.
  virtual void resume_sources(const Stream* stream) = 0;
  // A lane wrote with this period (for the loop's write-delay gauge).
  virtual void note_period(std::uint64_t period_us) = 0;

 protected:
  ~LoopHost() = default;
};

}  // namespace ringcast::relay
