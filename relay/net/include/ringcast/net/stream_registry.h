// The mounts, shared by every loop. Guarded by one mutex: it is taken when a client's request
// is routed, a source attaches or leaves, a mount ends and /stats is read; never per chunk.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ringcast/core/config.h"
#include "ringcast/net/stream.h"

namespace ringcast::relay {

class StreamRegistry {
 public:
  StreamRegistry(const RelayConfig& config, std::size_t workers) : config_(config), workers_(workers) {}

  enum class AttachOutcome { started, resumed, in_use, too_many_mounts };
  struct Attached {
    AttachOutcome outcome;
    std::shared_ptr<Stream> stream;
  };
  // A source wants `mount`: a new stream, the orphaned one (resumed), or refused (in use).
  // `settings` (may be null): the mount's own ring size and burst, for a new stream.
  Attached attach_source(const std::string& mount, std::size_t worker, StreamMetadata metadata,
                         const MountSettings* settings = nullptr);
  // now_ms: monotonic (grace); now_unix_ms: wall time (where an HLS segment ends).
  void detach_source(Stream& stream, std::uint64_t now_ms, std::uint64_t now_unix_ms);
  std::shared_ptr<Stream> find(const std::string& mount) const;
  // Removes the mounts orphaned for at least grace_ms and returns them. Walks the mounts only
  // while some are orphaned: with thousands of live mounts, the housekeeping's look costs nothing.
  std::vector<std::shared_ptr<Stream>> take_expired(std::uint64_t now_ms, std::uint64_t grace_ms);
  std::vector<std::shared_ptr<Stream>> snapshot() const;

 private:
  const RelayConfig& config_;
  const std::size_t workers_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::size_t orphaned_ = 0;  // streams_ without a source (in their grace period)
};

}  // namespace ringcast::relay
