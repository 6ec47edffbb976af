// Everything the command line sets, with the defaults documented in docs/operations.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ringcast/relay/fanout.h"

namespace ringcast::relay {

struct RelayConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8000;
  std::string source_password;  // empty: generated at start
  std::size_t ring_bytes = 4 * 1024 * 1024;
  std::uint32_t grace_ms = 10'000;             // viewers wait this long for a source to return
  std::uint32_t source_idle_timeout_ms = 10'000;  // a source sending nothing this long is dropped
  std::size_t max_head_bytes = 8 * 1024;       // request head larger: 431
  std::uint32_t head_timeout_ms = 15'000;      // request head slower: 408
  std::size_t max_mount_length = 128;
  std::size_t workers = 1;         // event loops serving connections
  std::size_t max_connections = 0;       // over it: 503 (0: the descriptor limit minus 64)
  std::size_t max_viewers_per_mount = 0;  // over it: 503 (0: no limit)
  std::size_t max_mounts = 100;           // a new mount over it: 503
  std::uint32_t viewer_stall_timeout_ms = 20'000;  // a viewer's write without progress: closed
  FanoutSettings fanout;
};

}  // namespace ringcast::relay
