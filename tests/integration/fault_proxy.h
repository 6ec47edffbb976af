// A TCP proxy on loopback that injects the faults this kernel's missing netem cannot: it
// forwards to a target port, and on command refuses (closes every connection and every new
// one at once) or stalls (keeps connections open and forwards nothing). For relay-tree tests:
// the edge talks to an origin through it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ringcast::integration {

class FaultProxy {
 public:
  enum class Mode { pass, refuse, stall };

  explicit FaultProxy(std::uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  void set_mode(Mode mode) { mode_.store(mode); }
  std::uint64_t accepted() const {
    return accepted_.load();
  }  // connections taken, refused ones too

 private:
  void accept_loop();
  // Forwards both ways between a client and the target until either closes or the mode is refuse.
  void pump(int client, int target);

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<Mode> mode_{Mode::pass};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace ringcast::integration
