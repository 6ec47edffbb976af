// Bare mode's writer: no event library at all. One thread sleeps to the next period boundary,
// accepts whoever connected, and write(2)s each viewer what the period brought, from one
// generated buffer. It costs what the kernel's TCP send path costs for these writes and next to
// nothing else: the floor a relay's fan-out is compared with (issue 27).
#include "bare_writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "clock.h"
#include "payload.h"
#include "writer_ring.h"

namespace ringcast::bench {
namespace {

constexpr std::uint64_t kRingBytes = kWriterRingBytes;
constexpr std::uint64_t kRingMask = kWriterRingMask;
constexpr const char (&kResponseHead)[sizeof kWriterResponseHead] = kWriterResponseHead;

std::atomic<bool> stopping{false};

struct Client {
  int fd;
  std::uint64_t position;  // absolute stream position of its next byte
};

class BareWriter {
 public:
  explicit BareWriter(const Options& options) : options_(options), ring_(kRingBytes) {}

  bool listen(int* port);
  void run();

 private:
  void generate(std::uint64_t now_ns);
  void accept_all();
  // False: the viewer is gone (closed, reset).
  bool write_to(Client& client);

  const Options& options_;
  int listen_fd_ = -1;
  std::vector<std::uint8_t> ring_;
  std::uint64_t head_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t chunks_generated_ = 0;
  RecordWriter writer_;
  std::vector<Client> clients_;
};

bool BareWriter::listen(int* port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 4096) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return false;
  }
  *port = ntohs(address.sin_port);
  start_ns_ = monotonic_ns();
  return true;
}

void BareWriter::generate(std::uint64_t now_ns) {
  const double due_bytes =
      static_cast<double>(now_ns - start_ns_) * static_cast<double>(options_.rate_bps) / 8e9;
  const auto due_chunks = static_cast<std::uint64_t>(due_bytes / options_.chunk_bytes) + 1;
  for (; chunks_generated_ < due_chunks; ++chunks_generated_) {
    std::uint64_t left = options_.chunk_bytes;
    while (left > 0) {
      const std::uint64_t index = head_ & kRingMask;
      const std::uint64_t span = std::min(left, kRingBytes - index);
      writer_.fill(std::span(ring_).subspan(index, span), now_ns);
      head_ += span;
      left -= span;
    }
  }
}

void BareWriter::accept_all() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: nobody else is waiting
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The request is left unread: nothing in it changes what a viewer gets.
    if (::send(fd, kResponseHead, sizeof kResponseHead - 1, MSG_NOSIGNAL) !=
        sizeof kResponseHead - 1) {
      ::close(fd);
      continue;
    }
    const std::uint64_t burst = options_.limit_burst_bytes;
    clients_.push_back({fd, record_aligned(head_ > burst ? head_ - burst : 0)});
  }
}

bool BareWriter::write_to(Client& client) {
  // Too far behind: skipped to the burst point on a record boundary (the verifier allows a
  // skip there); a record cut by an earlier partial write is abandoned with it, as a lapped
  // reader's would be.
  if (head_ - client.position > kRingBytes / 2)
    client.position = record_aligned(head_ - options_.limit_burst_bytes);
  iovec spans[2];
  int count = 0;
  for (std::uint64_t position = client.position; position < head_ && count < 2;) {
    const std::uint64_t index = position & kRingMask;
    const std::uint64_t span = std::min(head_ - position, kRingBytes - index);
    spans[count++] = {ring_.data() + index, span};
    position += span;
  }
  if (count == 0) return true;
  const ssize_t written = ::writev(client.fd, spans, count);
  if (written < 0) return errno == EAGAIN || errno == EINTR;
  client.position += static_cast<std::uint64_t>(written);
  return true;
}

void BareWriter::run() {
  // The write period: the time the stream takes to bring --bare-write-bytes (16 KiB by default,
  // the relay's --coalesce-bytes), as ringcast's writes at a full audience.
  const auto period_ns = static_cast<std::uint64_t>(static_cast<double>(options_.bare_write_bytes) *
                                                    8e9 / static_cast<double>(options_.rate_bps));
  std::uint64_t next_ns = monotonic_ns();
  while (!stopping.load(std::memory_order_relaxed)) {
    next_ns += period_ns;
    const timespec due{static_cast<time_t>(next_ns / 1'000'000'000),
                       static_cast<long>(next_ns % 1'000'000'000)};
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr);
    const std::uint64_t now = monotonic_ns();
    if (now > next_ns + period_ns)
      next_ns = now;  // fell behind (a stop, a slow period): no burst of catch-up
    generate(now);
    accept_all();
    for (std::size_t i = clients_.size(); i-- > 0;) {
      if (write_to(clients_[i])) continue;
      ::close(clients_[i].fd);
      clients_[i] = clients_.back();
      clients_.pop_back();
    }
  }
}

void on_terminate(int) {
  stopping.store(true, std::memory_order_relaxed);
}

}  // namespace

int run_bare_writer(const Options& options, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::signal(SIGPIPE, SIG_IGN);  // a viewer gone mid-write is an EPIPE, not a signal
  struct sigaction action {};
  action.sa_handler = on_terminate;
  ::sigaction(SIGTERM, &action, nullptr);
  BareWriter writer(options);
  int port = 0;
  if (!writer.listen(&port)) {
    std::cerr << "ringcast-bench: bare writer: listen: " << std::strerror(errno) << "\n";
    return 2;
  }
  const std::string line = "PORT " + std::to_string(port) + "\n";
  if (write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 2;
  close(report_fd);
  writer.run();
  return 0;
}

}  // namespace ringcast::bench
