// What a lane's actions are applied to (Stream::apply): one viewer's connection, as the
// stream sees it. ViewerSession is the real one, writing ring views to its socket; a test
// fakes it to drive Stream without a socket.
#pragma once

#include <cstdint>

#include "ringcast/core/lane.h"

namespace ringcast::relay {

// What became of a write action.
struct WriteResult {
  enum class Outcome { written, lapped, closed };
  Outcome outcome = Outcome::written;
  std::uint64_t accepted = 0;  // written: the kernel took every stream byte before it
  bool done = false;           // written: and everything else too (no write in flight)
};

class LaneViewer {
 public:
  // Pins `from` (Stream::pin), then writes the ring's bytes [from, to), the metadata block
  // gathered in after `block_after` (0: none). `head`: the live edge when it was decided.
  virtual WriteResult write_views(std::uint64_t from, std::uint64_t to, std::uint64_t block_after,
                                  std::uint64_t head) = 0;
  virtual void skipped(std::uint64_t bytes) = 0;  // the lane skipped it forward this far
  virtual void close_slow(CloseReason reason) = 0;
  // The stream ended and this viewer has everything: close cleanly.
  virtual void finish() = 0;
  // The oldest ring position its write in flight still references.
  virtual std::uint64_t accepted_position() const = 0;

 protected:
  ~LaneViewer() = default;
};

}  // namespace ringcast::relay
