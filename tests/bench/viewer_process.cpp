// The viewer process's schedule: ramp, window, stall, progress and the final report.
#include "viewer_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "clock.h"
#include "proc_sampler.h"
#include "timeline.h"
#include "viewer_pool.h"

namespace ringcast::bench {
namespace {

constexpr std::uint64_t kProgressIntervalNs = 250'000'000;  // fresh for the coordinator's line

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::uint64_t> read_go(int fd) {
  std::string line;
  char c;
  while (line.size() < 64) {
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') break;
    line += c;
  }
  if (line.rfind("GO ", 0) != 0) return std::nullopt;
  return std::stoull(line.substr(3));
}

class ViewerProcess {
 public:
  ViewerProcess(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay,
                std::uint32_t first, std::uint32_t count, const Timeline& timeline, int report_fd)
      : options_(options),
        pool_(loop, options, relay, first, count),
        timeline_(timeline),
        report_fd_(report_fd) {
    uv_timer_init(loop, &tick_);
    tick_.data = this;
    uv_timer_start(&tick_, tick_cb, 0, 1);
  }

 private:
  enum class Phase { kRamp, kWarmup, kWindow, kClosing };

  void on_tick() {
    const std::uint64_t now = monotonic_ns();
    if (phase_ == Phase::kRamp && pool_.open_due(timeline_.ramp_start_ns, now)) {
      phase_ = Phase::kWarmup;
    }
    if (phase_ == Phase::kWarmup && now >= timeline_.window_start_ns) {
      pool_.begin_window(now);
      if (auto self = sample_process(getpid())) cpu_at_window_start_ = self->cpu_seconds;
      phase_ = Phase::kWindow;
    }
    if (phase_ == Phase::kWarmup || phase_ == Phase::kWindow) {
      pool_.churn_due(timeline_.ramp_end_ns, std::min(now, timeline_.window_end_ns));
    }
    if (options_.stall_viewers > 0 && phase_ == Phase::kWindow) {
      const bool stall = now >= timeline_.stall_start_ns && now < timeline_.stall_end_ns;
      if (stall != stalled_) pool_.set_stall(stalled_ = stall);
    }
    if (phase_ == Phase::kWindow && now >= timeline_.window_end_ns) {
      pool_.end_window(now);
      if (auto self = sample_process(getpid())) cpu_at_window_end_ = self->cpu_seconds;
      phase_ = Phase::kClosing;
      uv_timer_stop(&tick_);
      uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
      pool_.close_all(closed_cb, this);
      return;
    }
    if (now >= next_progress_ns_) {
      next_progress_ns_ = now + kProgressIntervalNs;
      write_all(report_fd_, "P " + to_json(pool_.progress()).dump() + "\n");
    }
  }

  void on_closed() {
    ProcessResult result = pool_.result();
    result.bench_cpu_seconds = cpu_at_window_end_ - cpu_at_window_start_;
    write_all(report_fd_, "R " + to_json(result).dump() + "\n");
  }

  // libuv callbacks
  static void tick_cb(uv_timer_t* timer) { static_cast<ViewerProcess*>(timer->data)->on_tick(); }
  static void closed_cb(void* self) { static_cast<ViewerProcess*>(self)->on_closed(); }

  const Options& options_;
  ViewerPool pool_;
  Timeline timeline_;
  int report_fd_;
  uv_timer_t tick_;
  Phase phase_ = Phase::kRamp;
  bool stalled_ = false;
  std::uint64_t next_progress_ns_ = 0;
  double cpu_at_window_start_ = 0;
  double cpu_at_window_end_ = 0;
};

}  // namespace

int run_viewer_process(const Options& options, const sockaddr_storage& relay, std::uint32_t first,
                       std::uint32_t count, int go_fd, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  const auto ramp_start = read_go(go_fd);
  close(go_fd);
  if (!ramp_start) return 0;  // the coordinator gave up before starting
  uv_loop_t loop;
  uv_loop_init(&loop);
  ViewerProcess process(&loop, options, relay, first, count, make_timeline(options, *ramp_start),
                        report_fd);
  uv_run(&loop, UV_RUN_DEFAULT);
  close(report_fd);
  return uv_loop_close(&loop) == 0 ? 0 : 3;
}

}  // namespace ringcast::bench
