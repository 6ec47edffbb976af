// The fault-injecting proxy: one thread accepts, one thread per connection forwards with
// poll(2) in 50 ms steps, so a mode change takes effect within that step.
#include "fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace ringcast::integration {

namespace {

constexpr int kStepMs = 50;

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Moves what `from` has to `to`; false when either side is done.
bool forward(int from, int to) {
  char buffer[16 * 1024];
  const ssize_t n = ::recv(from, buffer, sizeof buffer, MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  for (ssize_t sent = 0; sent < n;) {
    const ssize_t m = ::send(to, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) return false;
    sent += m;
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("fault proxy: cannot listen: " + std::to_string(errno));
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stop_.store(true);
  acceptor_.join();
  std::lock_guard lock(mutex_);
  for (auto& pump : pumps_) pump.join();
  ::close(listen_fd_);
}

void FaultProxy::accept_loop() {
  while (!stop_.load()) {
    pollfd ready{listen_fd_, POLLIN, 0};
    if (::poll(&ready, 1, kStepMs) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    accepted_.fetch_add(1);
    const int target = mode_.load() == Mode::refuse ? -1 : connect_to(target_port_);
    if (target < 0) {
      ::close(client);  // refused: closed as soon as it was accepted
      continue;
    }
    std::lock_guard lock(mutex_);
    pumps_.emplace_back([this, client, target] { pump(client, target); });
  }
}

void FaultProxy::pump(int client, int target) {
  while (!stop_.load()) {
    const Mode mode = mode_.load();
    if (mode == Mode::refuse) break;
    if (mode == Mode::stall) {
      ::poll(nullptr, 0, kStepMs);  // hold everything in the kernel's buffers
      continue;
    }
    pollfd ready[2] = {{client, POLLIN, 0}, {target, POLLIN, 0}};
    if (::poll(ready, 2, kStepMs) <= 0) continue;
    if ((ready[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(client, target)) break;
    if ((ready[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(target, client)) break;
  }
  ::close(client);
  ::close(target);
}

}  // namespace ringcast::integration
