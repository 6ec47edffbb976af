// Broadcaster connection: PUT with Basic auth and Expect: 100-continue, then paced records.
#include "source.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "basic_auth.h"
#include "clock.h"

namespace ringcast::bench {
namespace {

constexpr std::size_t kMaxResponseHead = 8192;
// A reconnect PUTs again at once; a relay that has not yet noticed the old source leave
// answers 403, so the source asks again, every 25 ms for at most 5 s.
constexpr std::uint64_t kRetryDelayNs = 25'000'000;
constexpr std::uint32_t kMaxPutRetries = 200;
constexpr std::uint64_t kCloseTimeoutNs = 5'000'000'000;  // FIN sent, the relay must close
// While a callback is awaited (the cut's writes and the relay's close, a connect, the PUT's
// answer) pump has nothing to do but notice the new state this often.
constexpr std::uint64_t kAwaitPollNs = 5'000'000;

}  // namespace

Source::Source(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
               std::uint32_t stream, std::uint64_t pacing_origin_ns)
    : loop_(loop),
      options_(options),
      relay_(relay),
      mount_(options.mount_path(stream)),
      stream_(stream),
      pacing_{pacing_origin_ns, options.rate_bps, options.chunk_bytes},
      writer_(stream, 0) {
  request_ = "PUT " + mount_ + " HTTP/1.1\r\nHost: " + options.host +
             "\r\nAuthorization: " + basic_authorization("source", options.password) +
             "\r\nUser-Agent: ringcast-bench\r\nContent-Type: " + options.content_type +
             "\r\nIce-Name: bench\r\nIce-Public: 0\r\nExpect: 100-continue\r\n\r\n";
  // Room for a second of stream (shared out among the mounts, four chunks at least) before a
  // backlog has to allocate.
  const std::size_t room =
      std::max<std::size_t>(4 * std::size_t{options.chunk_bytes},
                            (options.rate_bps / 8 + options.chunk_bytes) / options.mounts);
  in_flight_.reserve(room);
  staging_.reserve(room);
}

void Source::start() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  connect_.data = this;
  write_.data = this;
  uv_tcp_nodelay(&tcp_, 1);
  state_ = State::kConnecting;
  const int rc =
      uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&relay_), connect_cb);
  if (rc < 0) fail(std::string("connect: ") + uv_strerror(rc));
}

void Source::on_connect(int status) {
  if (state_ != State::kConnecting) return;
  if (status < 0) return fail(std::string("connect: ") + uv_strerror(status));
  state_ = State::kAwaitingResponse;
  uv_buf_t buf = uv_buf_init(request_.data(), static_cast<unsigned>(request_.size()));
  write_pending_ = true;
  uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, write_cb);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc_cb, read_cb);
}

void Source::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0 && state_ == State::kCutting && shutdown_sent_) {
    // The relay saw the FIN and closed: the mount is orphaned, its viewers wait.
    state_ = State::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), close_cb);
    return;
  }
  if (nread < 0) {
    return fail(state_ == State::kStreaming ? "the relay closed the source connection"
                                            : "the relay closed before answering the PUT");
  }
  if (state_ != State::kAwaitingResponse) return;  // anything after the answer is ignored
  response_head_.append(buf->base, static_cast<std::size_t>(nread));
  const std::size_t end = response_head_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (response_head_.size() > kMaxResponseHead) fail("response head too long");
    return;
  }
  const std::string status_line = response_head_.substr(0, response_head_.find("\r\n"));
  const std::string code = status_line.size() >= 12 ? status_line.substr(9, 3) : "";
  if (reconnecting_ && code == "403" && retries_this_reconnect_ < kMaxPutRetries) {
    ++retries_this_reconnect_;
    ++put_retries_;
    retry_pending_ = true;
    state_ = State::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), close_cb);
    return;
  }
  if (status_line.rfind("HTTP/1.", 0) != 0 || (code != "100" && code != "200")) {
    return fail("the relay refused the source: " + status_line);
  }
  state_ = State::kStreaming;
  const std::uint64_t now = monotonic_ns();
  if (!started_streaming_) {  // the first chunk is the grid's latest; pacing spans reconnects
    started_streaming_ = true;
    const std::uint64_t due = pacing_.due_by(now);
    chunks_generated_ = due > 0 ? due - 1 : 0;
  }
  if (reconnecting_) {
    reconnecting_ = false;
    ++reconnects_;
    max_reconnect_ns_ = std::max(max_reconnect_ns_, now - cut_started_ns_);
  }
}

bool Source::reconnect(std::uint64_t now_ns) {
  if (state_ != State::kStreaming) return false;
  generate_due(now_ns);
  // Cut the current record where the schedule says for the next generation.
  const std::size_t cut = tear_offset(generation_ + 1);
  const std::size_t extra = (cut + kRecordSize - writer_.record_offset()) % kRecordSize;
  const std::size_t offset = staging_.size();
  staging_.resize(offset + extra);
  writer_.fill(std::span(staging_).subspan(offset), now_ns);
  bytes_cut_ += cut;
  reconnecting_ = true;
  retries_this_reconnect_ = 0;
  cut_started_ns_ = now_ns;
  state_ = State::kCutting;
  if (!write_pending_) flush();
  finish_cut();
  return true;
}

// Once the cut record's last byte is written: FIN after it (uv_shutdown waits for the queued
// writes), then the relay's close is awaited in on_read.
void Source::finish_cut() {
  if (state_ != State::kCutting || write_pending_ || !staging_.empty() || shutdown_sent_) return;
  shutdown_sent_ = true;
  shutdown_.data = this;
  const int rc = uv_shutdown(&shutdown_, reinterpret_cast<uv_stream_t*>(&tcp_), shutdown_cb);
  if (rc < 0) fail(std::string("shutdown: ") + uv_strerror(rc));
}

void Source::on_shutdown(int status) {
  if (status < 0 && status != UV_ECANCELED && state_ == State::kCutting) {
    fail(std::string("shutdown: ") + uv_strerror(status));
  }
}

void Source::on_closed() {
  if (state_ != State::kClosing) return;  // failed or closed for good: nothing follows
  if (retry_pending_) {
    retry_pending_ = false;
    state_ = State::kRetryWait;
    retry_at_ns_ = monotonic_ns() + kRetryDelayNs;
    return;
  }
  // The next generation continues the numbers after the cut record.
  ++generation_;
  writer_ = RecordWriter(stream_, make_seq(generation_, seq_number(writer_.next_seq())));
  response_head_.clear();
  shutdown_sent_ = false;
  start();
}

void Source::pump(std::uint64_t now_ns) {
  if (state_ == State::kRetryWait && now_ns >= retry_at_ns_) {
    response_head_.clear();
    start();
  }
  if (state_ == State::kCutting && now_ns - cut_started_ns_ > kCloseTimeoutNs) {
    return fail("the relay did not close the source connection after its FIN");
  }
  if (state_ != State::kStreaming) return;
  generate_due(now_ns);
  if (!write_pending_) flush();
}

std::optional<std::uint64_t> Source::next_wakeup(std::uint64_t now_ns) const {
  switch (state_) {
    case State::kStreaming:
      return pacing_.due_at(chunks_generated_);
    case State::kRetryWait:
      return retry_at_ns_;
    case State::kCutting:  // pump watches the close timeout
    case State::kConnecting:
    case State::kAwaitingResponse:
    case State::kClosing:
      return now_ns + kAwaitPollNs;
    case State::kIdle:
    case State::kFailed:
    case State::kClosed:
      return std::nullopt;
  }
  return std::nullopt;
}

void Source::generate_due(std::uint64_t now_ns) {
  const std::uint64_t due_chunks = pacing_.due_by(now_ns);
  while (chunks_generated_ < due_chunks) {
    const std::size_t offset = staging_.size();
    staging_.resize(offset + options_.chunk_bytes);
    writer_.fill(std::span(staging_).subspan(offset), now_ns);
    ++chunks_generated_;
  }
}

void Source::flush() {
  if (staging_.empty()) return;
  std::swap(in_flight_, staging_);
  staging_.clear();
  const std::uint64_t backlog = in_flight_.size() + tcp_.write_queue_size;
  if (backlog > max_backlog_) max_backlog_ = backlog;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(in_flight_.data()),
                             static_cast<unsigned>(in_flight_.size()));
  write_pending_ = true;
  const int rc = uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, write_cb);
  if (rc < 0) fail(std::string("write: ") + uv_strerror(rc));
}

void Source::on_write(int status) {
  write_pending_ = false;
  if (status < 0) {
    if (status != UV_ECANCELED) fail(std::string("write: ") + uv_strerror(status));
    return;
  }
  if (state_ != State::kStreaming && state_ != State::kAwaitingResponse &&
      state_ != State::kCutting) {
    return;
  }
  bytes_sent_ += in_flight_.size();
  in_flight_.clear();
  if (state_ == State::kStreaming || state_ == State::kCutting) flush();
  finish_cut();
}

void Source::fail(std::string message) {
  if (state_ == State::kFailed || state_ == State::kClosed) return;
  error_ = std::move(message);  // the coordinator reports it
  state_ = State::kFailed;
  close_handle();
}

void Source::close() {
  if (state_ == State::kIdle || state_ == State::kFailed || state_ == State::kClosed) return;
  state_ = State::kClosed;
  close_handle();
}

void Source::close_handle() {
  // Between two connections of a reconnect the handle is already closed (or closing).
  auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!uv_is_closing(handle)) uv_close(handle, close_cb);
}

// libuv callbacks

void Source::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* source = static_cast<Source*>(handle->data);
  *buf = uv_buf_init(source->read_buffer_.data(), source->read_buffer_.size());
}

void Source::connect_cb(uv_connect_t* request, int status) {
  static_cast<Source*>(request->data)->on_connect(status);
}

void Source::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread != 0) static_cast<Source*>(stream->data)->on_read(nread, buf);
}

void Source::write_cb(uv_write_t* request, int status) {
  static_cast<Source*>(request->data)->on_write(status);
}

void Source::shutdown_cb(uv_shutdown_t* request, int status) {
  static_cast<Source*>(request->data)->on_shutdown(status);
}

void Source::close_cb(uv_handle_t* handle) {
  static_cast<Source*>(handle->data)->on_closed();  // the Source outlives its loop's run
}

}  // namespace ringcast::bench
