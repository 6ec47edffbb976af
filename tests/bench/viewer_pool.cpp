// Viewer connections: connect, GET, response head, then every byte to the verifier.
#include "viewer_pool.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iostream>
#include <optional>

#include "clock.h"
#include "icy_demuxer.h"
#include "stream_verifier.h"

namespace ringcast::bench {
namespace {

constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr std::size_t kMaxHeadBytes = 16 * 1024;
constexpr std::size_t kStatusLineBytes = 12;                // "HTTP/1.x NNN"
constexpr std::uint32_t kViewersPerSourceAddress = 20'000;  // under the ephemeral port range
// A rejoined viewer's first bytes are the relay's burst from before the live edge: its latency
// counts only from this long after its first byte.
constexpr std::uint64_t kRejoinSettleNs = 1'000'000'000;

struct Peeked {
  std::size_t bytes = 0;
  std::uint64_t received_ns = 0;  // CLOCK_REALTIME; 0 if the kernel gave no timestamp
};

// Up to `size` of the bytes `fd` has not read yet, left there for the read, with the kernel's
// receive time of the last socket buffer they came from (the socket has SO_TIMESTAMPNS on).
Peeked peek(int fd, std::uint8_t* buffer, std::size_t size) {
  iovec iov{buffer, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd, &message, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return {};
  Peeked peeked{static_cast<std::size_t>(n), 0};
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec ts;
    std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
    peeked.received_ns = to_ns(ts);
  }
  return peeked;
}

// How much of "\r\n\r\n" a head ends with after `c`, when it ended with `matched` of it before.
std::uint8_t head_end_after(std::uint8_t matched, char c) {
  static constexpr char kHeadEnd[] = "\r\n\r\n";
  if (c == kHeadEnd[matched]) return matched + 1;
  return c == '\r' ? 1 : 0;
}

// From the request's write to a kernel receive time, both CLOCK_REALTIME.
std::uint64_t since(std::uint64_t sent_ns, std::uint64_t received_ns) {
  return received_ns > sent_ns ? received_ns - sent_ns : 0;
}

void set_receive_timestamps(int fd, bool on) {
  const int value = on ? 1 : 0;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &value, sizeof(value));
}

}  // namespace

struct ViewerPool::Viewer {
  enum class Phase : std::uint8_t { kIdle, kConnecting, kHead, kStreaming, kClosing, kClosed };

  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  ViewerPool* pool = nullptr;
  StreamVerifier verifier;
  IcyDemuxer icy;                 // --icy: takes the metadata blocks out before the verifier
  MetaintScanner metaint_header;  // --icy: icy-metaint in the response head
  std::uint64_t connect_start_ns = 0;
  std::uint64_t first_byte_ns = 0;  // this connection's
  // CLOCK_REALTIME, the clock of the kernel's receive times
  std::uint64_t request_sent_real_ns = 0;
  std::uint64_t session_bytes = 0;   // this connection's stream bytes
  std::uint64_t bytes_received = 0;  // over every connection
  std::uint64_t churn_window_bytes = 0;
  std::uint64_t bytes_at_window_start = 0;
  std::uint64_t bytes_at_window_end = 0;
  std::uint32_t index = 0;
  std::uint32_t mount = 0;                // the stream its verifier expects
  std::uint32_t title_at_window_end = 0;  // --icy: the last bench title seen by then
  std::uint16_t head_bytes = 0;
  std::array<char, kStatusLineBytes> status_line{};
  std::uint8_t head_end_matched = 0;  // how much of "\r\n\r\n" the head read so far ends with
  Phase phase = Phase::kIdle;
  bool stalled = false;
  bool churning = false;
  bool rejoin = false;  // open again once closed
  bool reading = false;
  bool streaming_at_window_start = false;
  bool answer_stamped = false;  // answer_rx_ns recorded for this connection
  bool stamping = false;        // SO_TIMESTAMPNS on until the first stream byte is stamped
};

ViewerPool::ViewerPool(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
                       std::uint32_t first, std::uint32_t count)
    : loop_(loop),
      options_(options),
      relay_(relay),
      skips_(options.is_mpeg_ts() ? SkipAlignment::kRecord : SkipAlignment::kAnyByte),
      first_(first),
      count_(count),
      viewers_(new Viewer[count]),
      read_buffer_(kReadBufferBytes) {
  requests_.reserve(std::min(options.mounts, count));
  for (std::uint32_t m = 0; m < std::min(options.mounts, count); ++m) {
    requests_.push_back("GET " + options.mount_path(options.mount_of(first + m)) +
                        " HTTP/1.1\r\nHost: " + options.host +
                        "\r\nUser-Agent: ringcast-bench\r\n" +
                        (options.icy ? "Icy-MetaData: 1\r\n" : "") + "\r\n");
  }
  for (std::uint32_t i = 0; i < count_; ++i) {
    Viewer& viewer = viewers_[i];
    viewer.pool = this;
    viewer.index = first + i;
    viewer.mount = options.mount_of(viewer.index);
    viewer.stalled = options.is_stalled(viewer.index);
    viewer.churning = options.is_churning(viewer.index);
    if (viewer.churning) churners_.push_back(i);
    ++class_of(viewer).viewers;
  }
  if (options.churn_viewers > 0) {
    churn_per_second_ = options.churn_per_second * churners_.size() / options.churn_viewers;
  }
}

ViewerPool::~ViewerPool() = default;

bool ViewerPool::open_due(std::uint64_t ramp_start_ns, std::uint64_t now_ns) {
  while (next_to_open_ < count_) {
    const double slot_seconds = (first_ + next_to_open_) / options_.ramp_per_second;
    if (ramp_start_ns + static_cast<std::uint64_t>(slot_seconds * 1e9) > now_ns) return false;
    open(viewers_[next_to_open_++]);
  }
  return true;
}

void ViewerPool::open(Viewer& viewer) {
  ClassResult& result = class_of(viewer);
  ++result.joins;
  // A churning viewer's earlier connection: its counts stay with the class, framing starts over.
  check_verified(viewer, result);
  result.counts.add(viewer.verifier.counts());
  result.icy.add(viewer.icy.counts());
  viewer.verifier = StreamVerifier{viewer.mount, skips_};
  viewer.icy = IcyDemuxer{};
  viewer.metaint_header = MetaintScanner{};
  viewer.session_bytes = 0;
  viewer.head_bytes = 0;
  viewer.head_end_matched = 0;
  viewer.reading = false;
  viewer.answer_stamped = false;
  viewer.stamping = false;
  uv_tcp_init(loop_, &viewer.tcp);
  viewer.tcp.data = &viewer;
  viewer.connect.data = &viewer;
  viewer.write.data = &viewer;
  ++open_handles_;
  viewer.phase = Viewer::Phase::kConnecting;
  viewer.connect_start_ns = monotonic_ns();
  if (relay_.ss_family == AF_INET && options_.viewers > kViewersPerSourceAddress) {
    // Each source address has its own ephemeral ports: spread big runs over 127.0.1.x.
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr =
        htonl((127u << 24) | (1u << 8) | (1 + viewer.index / kViewersPerSourceAddress));
    uv_tcp_bind(&viewer.tcp, reinterpret_cast<const sockaddr*>(&local), 0);
  }
  sockaddr_storage target = relay_;
  if (!options_.viewer_ports.empty()) {
    // A relay tree: this viewer's edge, the same host.
    const std::uint16_t port = htons(options_.viewer_ports[viewer.index % options_.viewer_ports.size()]);
    if (target.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&target)->sin_port = port;
    } else {
      reinterpret_cast<sockaddr_in6*>(&target)->sin6_port = port;
    }
  }
  const int rc = uv_tcp_connect(&viewer.connect, &viewer.tcp, reinterpret_cast<const sockaddr*>(&target),
                                connect_cb);
  if (rc < 0) on_connect(viewer, rc);
}

void ViewerPool::on_connect(Viewer& viewer, int status) {
  if (viewer.phase != Viewer::Phase::kConnecting) return;  // closed meanwhile
  if (status < 0) {
    if (class_of(viewer).connect_failures++ == 0) {
      std::cerr << "ringcast-bench: viewer connect failed: " << uv_strerror(status) << "\n";
    }
    close(viewer);
    return;
  }
  viewer.phase = Viewer::Phase::kHead;
  // Viewers [first, first + M) hold one of each mount, in order, so k's GET is (k - first) % M.
  std::string& request = requests_[(viewer.index - first_) % requests_.size()];
  uv_buf_t buf = uv_buf_init(request.data(), static_cast<unsigned>(request.size()));
  if (uv_os_fd_t fd; uv_fileno(reinterpret_cast<uv_handle_t*>(&viewer.tcp), &fd) == 0) {
    set_receive_timestamps(fd, true);
    viewer.stamping = true;
  }
  // The socket is connected, so uv_write writes the request now.
  viewer.request_sent_real_ns = realtime_ns();
  uv_write(&viewer.write, reinterpret_cast<uv_stream_t*>(&viewer.tcp), &buf, 1, write_cb);
  if (!(stalled_ && viewer.stalled)) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&viewer.tcp), alloc_cb, read_cb);
    viewer.reading = true;
  }
}

void ViewerPool::on_read(Viewer& viewer, ssize_t nread) {
  if (nread < 0) {
    if (!window_ended_) {
      ClassResult& result = class_of(viewer);
      if (viewer.phase == Viewer::Phase::kStreaming) {
        ++result.server_disconnects;
      } else {
        ++result.http_errors;  // closed before a complete response head
      }
    }
    close(viewer);
    return;
  }
  const std::uint8_t* data = read_buffer_.data();
  auto size = static_cast<std::size_t>(nread);
  if (viewer.phase == Viewer::Phase::kHead) on_head_bytes(viewer, data, size);
  if (viewer.phase != Viewer::Phase::kStreaming || size == 0) return;
  const std::uint64_t now = monotonic_ns();
  // Without ICY the whole read is stream; with it, the runs between metadata blocks.
  std::span<const std::uint8_t> read(data, size);
  while (!read.empty()) {
    const std::span<const std::uint8_t> stream = viewer.icy.next(read);
    if (!stream.empty()) on_stream_bytes(viewer, stream, now);
  }
}

void ViewerPool::on_stream_bytes(Viewer& viewer, std::span<const std::uint8_t> bytes,
                                 std::uint64_t now) {
  ClassResult& result = class_of(viewer);
  if (viewer.session_bytes == 0) {
    // The head's end was peeked before its first stream bytes arrived, and they came with the
    // same read: the read's own time is the bound.
    if (viewer.stamping) stop_stamping(viewer, realtime_ns());
    viewer.first_byte_ns = now;
    result.first_byte_ns.record(now - viewer.connect_start_ns);
  }
  viewer.session_bytes += bytes.size();
  viewer.bytes_received += bytes.size();
  if (viewer.churning && in_window_) viewer.churn_window_bytes += bytes.size();
  const bool measured =
      in_window_ && (viewer.churning ? now - viewer.first_byte_ns >= kRejoinSettleNs
                                     : viewer.streaming_at_window_start);
  viewer.verifier.feed(bytes, now, measured ? &result.latency_ns : nullptr);
}

// Before a read of a connection still without its first stream byte: the kernel's receive times
// of the answer's first byte and of its first stream byte, found by peeking at what the read
// will take. Joins only: timestamps go off once the stream has begun.
void ViewerPool::stamp_answer(Viewer& viewer) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&viewer.tcp), &fd) != 0) return;
  std::uint8_t* scratch = read_buffer_.data();
  if (!viewer.answer_stamped) {
    const Peeked first = peek(fd, scratch, 1);
    if (first.bytes == 0) return;
    if (first.received_ns != 0) {
      class_of(viewer).answer_rx_ns.record(since(viewer.request_sent_real_ns, first.received_ns));
    }
    viewer.answer_stamped = true;
  }
  // The first stream byte's place among the unread bytes: just after the head's end.
  std::size_t first_stream_byte = 0;
  if (viewer.phase == Viewer::Phase::kHead) {
    const Peeked head = peek(fd, scratch, kMaxHeadBytes + 1);
    std::uint8_t matched = viewer.head_end_matched;
    std::size_t i = 0;
    while (i < head.bytes && matched < 4) {
      matched = head_end_after(matched, static_cast<char>(scratch[i++]));
    }
    if (matched < 4 || i == head.bytes) return;  // no stream byte yet
    first_stream_byte = i;
  } else if (viewer.phase != Viewer::Phase::kStreaming) {
    return;
  }
  const Peeked stream = peek(fd, scratch, first_stream_byte + 1);
  if (stream.bytes <= first_stream_byte) return;
  if (stream.received_ns != 0) stop_stamping(viewer, stream.received_ns);
}

// The first stream byte's receive time is known: record it, and no more timestamps.
void ViewerPool::stop_stamping(Viewer& viewer, std::uint64_t received_ns) {
  class_of(viewer).stream_rx_ns.record(since(viewer.request_sent_real_ns, received_ns));
  if (uv_os_fd_t fd; uv_fileno(reinterpret_cast<uv_handle_t*>(&viewer.tcp), &fd) == 0) {
    set_receive_timestamps(fd, false);
  }
  viewer.stamping = false;
}

// Consumes response-head bytes up to the blank line; leaves `data` at the first stream byte.
void ViewerPool::on_head_bytes(Viewer& viewer, const std::uint8_t*& data, std::size_t& size) {
  while (size > 0) {
    const char c = static_cast<char>(*data++);
    --size;
    if (viewer.head_bytes < kStatusLineBytes) viewer.status_line[viewer.head_bytes] = c;
    if (++viewer.head_bytes > kMaxHeadBytes) return fail(viewer, &ClassResult::http_errors);
    if (options_.icy) viewer.metaint_header.feed(c);
    viewer.head_end_matched = head_end_after(viewer.head_end_matched, c);
    if (viewer.head_end_matched < 4) continue;
    const std::string_view line(viewer.status_line.data(), kStatusLineBytes);
    if (line.substr(0, 7) != "HTTP/1." || line.substr(8, 4) != " 200") {
      if (class_of(viewer).http_errors == 0) {
        std::cerr << "ringcast-bench: viewer got \"" << line << "...\"\n";
      }
      return fail(viewer, &ClassResult::http_errors);
    }
    viewer.phase = Viewer::Phase::kStreaming;
    ClassResult& result = class_of(viewer);
    ++result.connected;
    if (options_.icy) start_icy(viewer, result);
    return;
  }
}

// An ICY viewer's response must say where the blocks are; one without is a failure, and its
// stream is verified as it comes (with no blocks to take out).
void ViewerPool::start_icy(Viewer& viewer, ClassResult& result) {
  const std::optional<std::uint32_t> metaint = viewer.metaint_header.metaint();
  if (!metaint) {
    if (result.icy_missing_metaint++ == 0) {
      std::cerr << "ringcast-bench: viewer asked for ICY metadata, answer had no icy-metaint\n";
    }
    return;
  }
  viewer.icy = IcyDemuxer{*metaint};
  result.icy_metaint = std::max(result.icy_metaint, *metaint);
}

void ViewerPool::fail(Viewer& viewer, std::uint32_t ClassResult::*counter) {
  ++(class_of(viewer).*counter);
  close(viewer);
}

void ViewerPool::close(Viewer& viewer) {
  if (viewer.phase == Viewer::Phase::kClosing || viewer.phase == Viewer::Phase::kClosed ||
      viewer.phase == Viewer::Phase::kIdle) {
    return;
  }
  viewer.phase = Viewer::Phase::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&viewer.tcp), close_cb);
}

void ViewerPool::on_close(Viewer& viewer) {
  viewer.phase = Viewer::Phase::kClosed;
  --open_handles_;
  if (viewer.rejoin && !closing_all_) {
    viewer.rejoin = false;
    open(viewer);
    return;
  }
  if (open_handles_ == 0 && on_closed_ != nullptr) on_closed_(on_closed_arg_);
}

void ViewerPool::churn_due(std::uint64_t churn_start_ns, std::uint64_t now_ns) {
  if (churners_.empty() || now_ns < churn_start_ns) return;
  const auto due = static_cast<std::uint64_t>(static_cast<double>(now_ns - churn_start_ns) / 1e9 *
                                              churn_per_second_);
  for (; churn_leaves_done_ < due; ++churn_leaves_done_) {
    leave(viewers_[churners_[churn_leaves_done_ % churners_.size()]]);
  }
}

// The viewer hangs up wherever its stream is, and a fresh connection takes its place.
void ViewerPool::leave(Viewer& viewer) {
  switch (viewer.phase) {
    case Viewer::Phase::kIdle:  // not yet opened by the ramp
      return;
    case Viewer::Phase::kClosed:  // closed by the server or a failure: it simply joins again
      open(viewer);
      return;
    case Viewer::Phase::kClosing:
      viewer.rejoin = true;
      return;
    case Viewer::Phase::kConnecting:
    case Viewer::Phase::kHead:
    case Viewer::Phase::kStreaming:
      ClassResult& result = class_of(viewer);
      ++result.leaves;
      if (viewer.session_bytes == 0) ++result.sessions_without_data;
      viewer.rejoin = true;
      close(viewer);
      return;
  }
}

void ViewerPool::begin_window(std::uint64_t now_ns) {
  window_start_ns_ = now_ns;
  in_window_ = true;
  for (std::uint32_t i = 0; i < count_; ++i) {
    Viewer& viewer = viewers_[i];
    viewer.bytes_at_window_start = viewer.bytes_received;
    viewer.streaming_at_window_start =
        viewer.phase == Viewer::Phase::kStreaming && viewer.bytes_received > 0;
  }
}

void ViewerPool::end_window(std::uint64_t now_ns) {
  in_window_ = false;
  window_ended_ = true;
  window_seconds_ = static_cast<double>(now_ns - window_start_ns_) / 1e9;
  for (std::uint32_t i = 0; i < count_; ++i) {
    viewers_[i].bytes_at_window_end = viewers_[i].bytes_received;
    viewers_[i].title_at_window_end = viewers_[i].icy.last_bench_title();
  }
}

void ViewerPool::set_stall(bool stalled) {
  stalled_ = stalled;
  for (std::uint32_t i = 0; i < count_; ++i) {
    Viewer& viewer = viewers_[i];
    const bool live =
        viewer.phase == Viewer::Phase::kHead || viewer.phase == Viewer::Phase::kStreaming;
    if (!viewer.stalled || !live) continue;
    auto* stream = reinterpret_cast<uv_stream_t*>(&viewer.tcp);
    if (stalled && viewer.reading) uv_read_stop(stream);
    if (!stalled && !viewer.reading) uv_read_start(stream, alloc_cb, read_cb);
    viewer.reading = !stalled;
  }
}

void ViewerPool::close_all(void (*on_closed)(void*), void* arg) {
  closing_all_ = true;
  on_closed_ = on_closed;
  on_closed_arg_ = arg;
  for (std::uint32_t i = 0; i < count_; ++i) close(viewers_[i]);
  if (open_handles_ == 0) on_closed(arg);
}

Progress ViewerPool::progress() const {
  Progress progress;
  for (const ClassResult* result : {&healthy_, &stalled_class_, &churning_}) {
    progress.connected += result->connected;
    progress.failures += result->connect_failures + result->http_errors;
    progress.disconnects += result->server_disconnects;
    progress.joins += result->joins;
    progress.leaves += result->leaves;
    progress.corrupt += result->counts.records_corrupt;  // churned connections' counts
    progress.skipped += result->counts.records_skipped;
    progress.torn += result->counts.records_torn;
    progress.foreign += result->counts.records_foreign;
    progress.icy_titles += result->icy.titles;
    progress.icy_bad_blocks += result->icy.bad_blocks;
  }
  for (std::uint32_t i = 0; i < count_; ++i) {
    const Viewer& viewer = viewers_[i];
    if (viewer.phase == Viewer::Phase::kHead || viewer.phase == Viewer::Phase::kStreaming) {
      ++progress.open;
    }
    progress.bytes += viewer.bytes_received;
    progress.corrupt += viewer.verifier.counts().records_corrupt;
    progress.skipped += viewer.verifier.counts().records_skipped;
    progress.torn += viewer.verifier.counts().records_torn;
    progress.foreign += viewer.verifier.counts().records_foreign;
    progress.icy_titles += viewer.icy.counts().titles;
    progress.icy_bad_blocks += viewer.icy.counts().bad_blocks;
  }
  return progress;
}

ProcessResult ViewerPool::result() const {
  ProcessResult result;
  result.window_seconds = window_seconds_;
  result.healthy = healthy_;
  result.stalled = stalled_class_;
  result.churning = churning_;
  for (std::uint32_t i = 0; i < count_; ++i) {
    const Viewer& viewer = viewers_[i];
    ClassResult& target = viewer.churning  ? result.churning
                          : viewer.stalled ? result.stalled
                                           : result.healthy;
    target.counts.add(viewer.verifier.counts());
    target.icy.add(viewer.icy.counts());
    check_verified(viewer, target);
    target.bytes_received += viewer.bytes_received;
    if (viewer.churning) {  // no whole-window rate: it was away part of the time
      target.bytes_in_window += viewer.churn_window_bytes;
      continue;
    }
    if (!viewer.streaming_at_window_start && viewer.bytes_received > 0) {
      ++target.late_joins;
      continue;
    }
    const std::uint64_t in_window = viewer.bytes_at_window_end - viewer.bytes_at_window_start;
    target.bytes_in_window += in_window;
    target.window_rates_bps.push_back(
        window_seconds_ > 0 ? static_cast<double>(in_window) * 8 / window_seconds_ : 0);
    if (options_.icy) {
      std::vector<std::uint32_t>& seen = target.last_title_viewers;
      if (seen.size() <= viewer.title_at_window_end) seen.resize(viewer.title_at_window_end + 1);
      ++seen[viewer.title_at_window_end];
    }
  }
  return result;
}

void ViewerPool::check_verified(const Viewer& viewer, ClassResult& result) const {
  // Any 2 * 188 - 1 bytes of a good stream hold one whole record.
  if (viewer.session_bytes >= 2 * kRecordSize - 1 && viewer.verifier.counts().records_ok == 0) {
    ++result.sessions_unverified;
  }
}

ClassResult& ViewerPool::class_of(const Viewer& viewer) {
  if (viewer.churning) return churning_;
  return viewer.stalled ? stalled_class_ : healthy_;
}

// libuv callbacks

void ViewerPool::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* viewer = static_cast<Viewer*>(handle->data);
  if (viewer->stamping) viewer->pool->stamp_answer(*viewer);
  std::vector<std::uint8_t>& buffer = viewer->pool->read_buffer_;
  *buf = uv_buf_init(reinterpret_cast<char*>(buffer.data()), static_cast<unsigned>(buffer.size()));
}

void ViewerPool::connect_cb(uv_connect_t* request, int status) {
  auto* viewer = static_cast<Viewer*>(request->data);
  viewer->pool->on_connect(*viewer, status);
}

void ViewerPool::write_cb(uv_write_t*, int) {}  // a failed GET shows up as a read error

void ViewerPool::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* viewer = static_cast<Viewer*>(stream->data);
  if (nread != 0) viewer->pool->on_read(*viewer, nread);
}

void ViewerPool::close_cb(uv_handle_t* handle) {
  auto* viewer = static_cast<Viewer*>(handle->data);
  viewer->pool->on_close(*viewer);
}

}  // namespace ringcast::bench
