// A broadcaster: receives straight into the stream's ring. libuv's alloc callback returns the
// ring's writable span, so body bytes land in the ring with no intermediate copy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "ringcast/http/chunked_decoder.h"
#include "ringcast/radio/icy_reader.h"
#include "ringcast/net/stream.h"
#include "ringcast/uv/tcp.h"

namespace ringcast::relay {

class Connection;
class OriginPull;
class Stream;

class SourceSession final : public HeldSource {
 public:
  // chunked: the body is sent with Transfer-Encoding: chunked; its framing is removed in the
  // ring, where the kernel put it, before anything is committed. icy_metaint: an origin's
  // answer carries ICY blocks every that many bytes (an edge's pull); they are taken out the
  // same way and their titles become the mount's.
  SourceSession(Connection& connection, std::shared_ptr<Stream> stream, bool chunked = false,
                std::uint32_t icy_metaint = 0);
  ~SourceSession();

  // Body bytes that arrived in the same read as the head are copied into the ring once.
  void start(std::string_view early_body, std::uint64_t now_ms);
  uv_buf_t next_buffer();
  // n bytes landed at `at`, the start of the span next_buffer() gave.
  void on_received(char* at, std::size_t n, std::uint64_t now_ms);
  void detach(std::uint64_t now_ms);
  // The ring had no room (a lane's gate): stop reading until that lane made room.
  void pause();
  void resume();

  // Reads it on demand or as bytes arrive, as its mount's viewers need now (source_hold.h):
  // looked at with its reads, every 250 ms at most (and released at once when the first viewer
  // of the writer's loop joins: Stream::add_viewer).
  void review_hold();
  bool held() const { return hold_bytes_ != 0; }
  // A held source that looks silent by its reads: reads what the kernel holds, and dates it by
  // when the kernel received it (TCP_INFO), so --source-timeout counts from the source's last
  // byte, not from the relay's read of it.
  void read_before_timeout(std::uint64_t now_ms);
  // HeldSource
  void read_now() override;
  void release() override;

  // When the source last sent, or the relay last resumed reading it: a source the relay has
  // paused is never blamed for the silence (--source-timeout).
  std::uint64_t last_data_ms() const { return last_data_ms_; }
  bool paused() const { return paused_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  Stream& stream() { return *stream_; }
  // An edge's pull feeds the mount through this session: it hears when the session ends.
  void set_pull(OriginPull* pull) { pull_ = pull; }
  bool pulled() const { return pull_ != nullptr; }

 private:
  void commit(char* at, std::size_t n);
  // Sets the socket's low-water mark (0: released) and tells the stream.
  void hold(std::size_t bytes);

  Connection& connection_;
  std::shared_ptr<Stream> stream_;
  bool attached_ = false;
  bool paused_ = false;
  std::uint64_t paused_since_us_ = 0;  // while paused: how long the relay kept it from reading
  std::uint64_t last_data_ms_ = 0;
  std::uint64_t bytes_received_ = 0;
  std::size_t hold_bytes_ = 0;  // the socket's SO_RCVLOWAT while held (0: not held)
  std::uint64_t next_review_ms_ = 0;  // review_hold() with the first read from then
  std::optional<ChunkedDecoder> chunked_;
  std::optional<IcyReader> icy_;
  OriginPull* pull_ = nullptr;
};

}  // namespace ringcast::relay
