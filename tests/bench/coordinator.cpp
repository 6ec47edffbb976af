// Run orchestration: processes, schedule, progress, sampling and the final merge.
#include "coordinator.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "bare_writer.h"
#include "limit_writer.h"
#include "proc_sampler.h"
#include "report.h"
#include "source_group.h"
#include "timeline.h"
#include "title_updater.h"
#include "viewer_process.h"

namespace ringcast::bench {
namespace {

constexpr std::uint64_t kSecondNs = 1'000'000'000;
constexpr std::uint64_t kSourceTimeoutNs = 5 * kSecondNs;
constexpr std::uint64_t kCollectGraceNs = 30 * kSecondNs;

struct ViewerChild {
  pid_t pid = 0;
  int go_fd = -1;      // coordinator's end of the go pipe
  int report_fd = -1;  // coordinator's end of the report pipe
  uv_pipe_t pipe;
  std::string pending;  // a partial report line
  Progress progress;
  std::optional<ProcessResult> result;
  bool ended = false;
  class Coordinator* owner = nullptr;
};

class Coordinator {
 public:
  explicit Coordinator(Options options) : options_(std::move(options)) {}
  int run();

 private:
  enum class Phase { kSourceStarting, kSettling, kRunning, kCollecting, kDone };

  bool resolve();
  bool fork_limit_writer();
  bool fork_viewers();
  void on_tick();
  void send_go(std::uint64_t now);
  void sample_server(std::optional<ProcSample>* into);
  void print_progress(std::uint64_t now);
  void note_source_failures();
  void open_series();
  void on_report_bytes(ViewerChild& child, ssize_t nread, const uv_buf_t* buf);
  void on_report_line(ViewerChild& child, const std::string& line);
  void fail(const std::string& message);
  void finish();
  void close_go_pipes();

  // libuv callbacks
  static void tick_cb(uv_timer_t* timer);
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  Options options_;
  sockaddr_storage server_address_{};
  pid_t writer_pid_ = 0;
  std::vector<std::unique_ptr<ViewerChild>> children_;
  uv_loop_t loop_;
  uv_timer_t tick_;
  std::unique_ptr<SourceGroup> sources_;
  std::unique_ptr<TitleUpdater> titles_;  // --title-every
  Phase phase_ = Phase::kSourceStarting;
  std::uint64_t phase_deadline_ns_ = 0;
  Timeline timeline_;
  bool window_started_ = false;
  double own_cpu_at_window_start_ = 0;
  std::uint64_t next_progress_ns_ = 0;
  std::uint64_t last_progress_bytes_ = 0;
  std::optional<ProcSample> last_server_sample_;
  std::FILE* series_ = nullptr;
  RunFacts facts_;
  std::string fatal_;
  char read_buffer_[64 * 1024];
};

bool Coordinator::resolve() {
  const bool v6 = options_.host.find(':') != std::string::npos;
  const int rc = v6 ? uv_ip6_addr(options_.host.c_str(), options_.port,
                                  reinterpret_cast<sockaddr_in6*>(&server_address_))
                    : uv_ip4_addr(options_.host.c_str(), options_.port,
                                  reinterpret_cast<sockaddr_in*>(&server_address_));
  if (rc < 0) std::cerr << "ringcast-bench: bad host " << options_.host << "\n";
  return rc == 0;
}

bool Coordinator::fork_limit_writer() {
  int fds[2];
  if (pipe(fds) < 0) return false;
  std::fflush(nullptr);
  writer_pid_ = fork();
  if (writer_pid_ < 0) return false;
  if (writer_pid_ == 0) {
    close(fds[0]);
    _exit(options_.mode == Mode::kBare ? run_bare_writer(options_, fds[1]) : run_limit_writer(options_, fds[1]));
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  if (line.rfind("PORT ", 0) != 0) {
    std::cerr << "ringcast-bench: the limit writer did not start\n";
    return false;
  }
  options_.host = "127.0.0.1";
  options_.port = static_cast<std::uint16_t>(std::stoul(line.substr(5)));
  if (options_.relay_pid != 0) {
    std::cerr << "ringcast-bench: limit mode samples its own writer; --relay-pid ignored\n";
  }
  options_.relay_pid = writer_pid_;
  return true;
}

bool Coordinator::fork_viewers() {
  const std::uint32_t processes = options_.processes;
  for (std::uint32_t p = 0; p < processes; ++p) {
    const std::uint32_t first =
        static_cast<std::uint32_t>(std::uint64_t{options_.viewers} * p / processes);
    const std::uint32_t end =
        static_cast<std::uint32_t>(std::uint64_t{options_.viewers} * (p + 1) / processes);
    int go[2], report[2];
    if (pipe(go) < 0 || pipe(report) < 0) return false;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      for (const auto& sibling : children_) {
        close(sibling->go_fd);
        close(sibling->report_fd);
      }
      close(go[1]);
      close(report[0]);
      _exit(run_viewer_process(options_, server_address_, first, end - first, go[0], report[1]));
    }
    close(go[0]);
    close(report[1]);
    auto child = std::make_unique<ViewerChild>();
    child->pid = pid;
    child->go_fd = go[1];
    child->report_fd = report[0];
    child->owner = this;
    children_.push_back(std::move(child));
  }
  return true;
}

int Coordinator::run() {
  if (options_.in_tool_writer() && !fork_limit_writer()) return 2;
  if (!resolve() || !fork_viewers()) {
    fail("could not start the viewer processes");
    return 2;
  }
  uv_loop_init(&loop_);
  for (auto& child : children_) {
    uv_pipe_init(&loop_, &child->pipe, 0);
    child->pipe.data = child.get();
    uv_pipe_open(&child->pipe, child->report_fd);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&child->pipe), alloc_cb, read_cb);
  }
  facts_.server.pid = options_.relay_pid;
  sample_server(&facts_.server.idle);
  const std::uint64_t now = monotonic_ns();
  if (options_.mode == Mode::kRelay) {
    // Sources connect at --source-ramp; the last one then has the usual time to answer.
    sources_ = std::make_unique<SourceGroup>(&loop_, options_, server_address_, now);
    sources_->pump(now);
    facts_.source.used = true;
    if (options_.title_every_seconds > 0) {
      titles_ = std::make_unique<TitleUpdater>(&loop_, options_, server_address_);
      facts_.titles.used = true;
    }
    phase_deadline_ns_ =
        now + kSourceTimeoutNs +
        static_cast<std::uint64_t>(options_.mounts / options_.source_ramp_per_second * 1e9);
  } else {
    phase_ = Phase::kSettling;
    phase_deadline_ns_ = now + static_cast<std::uint64_t>(options_.settle_seconds * 1e9);
  }
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, tick_cb, 0, 1);
  open_series();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  if (series_ != nullptr) std::fclose(series_);

  if (writer_pid_ > 0) kill(writer_pid_, SIGTERM);
  for (auto& child : children_) {
    if (!fatal_.empty()) kill(child->pid, SIGKILL);
    waitpid(child->pid, nullptr, 0);
  }
  if (writer_pid_ > 0) waitpid(writer_pid_, nullptr, 0);
  if (!fatal_.empty()) {
    std::cerr << "ringcast-bench: " << fatal_ << "\n";
    return 2;
  }
  for (auto& child : children_) facts_.viewers.merge(std::move(*child->result));
  return report(options_, facts_, std::cout);
}

void Coordinator::on_tick() {
  const std::uint64_t now = monotonic_ns();
  if (sources_) {
    sources_->pump(now);
    if (phase_ != Phase::kSourceStarting) note_source_failures();
  }
  if (titles_) titles_->pump(now);
  switch (phase_) {
    case Phase::kSourceStarting:
      if (sources_->streaming() == sources_->size()) {
        phase_ = Phase::kSettling;
        phase_deadline_ns_ = now + static_cast<std::uint64_t>(options_.settle_seconds * 1e9);
      } else if (sources_->failed() > 0) {
        return fail("the broadcaster could not start: " + sources_->first_error());
      } else if (now > phase_deadline_ns_) {
        if (sources_->size() == 1) return fail("the relay did not answer the broadcaster's PUT");
        return fail("only " + std::to_string(sources_->streaming()) + " of " +
                    std::to_string(sources_->size()) + " broadcasters were streaming in time");
      }
      return;
    case Phase::kSettling:
      if (now >= phase_deadline_ns_) send_go(now);
      return;
    case Phase::kRunning:
      if (!window_started_ && now >= timeline_.window_start_ns) {
        window_started_ = true;
        sample_server(&facts_.server.window_start);
        if (sources_) sources_->begin_window();
        if (auto self = sample_process(getpid())) own_cpu_at_window_start_ = self->cpu_seconds;
      }
      if (now >= timeline_.window_end_ns) {
        sample_server(&facts_.server.window_end);
        if (facts_.server.window_end) {
          facts_.server.rss_in_window.emplace_back(
              static_cast<double>(now - timeline_.window_start_ns) / 1e9,
              facts_.server.window_end->rss_bytes);
        }
        if (sources_) {
          sources_->end_window();
          facts_.source.bytes_in_window = sources_->window_bytes();
          facts_.source.min_bytes_in_window = sources_->min_window_bytes();
          facts_.source.max_backlog_bytes = sources_->max_backlog_bytes();
          facts_.source.reconnects = sources_->reconnects();
          facts_.source.put_retries = sources_->put_retries();
          facts_.source.max_reconnect_ns = sources_->max_reconnect_ns();
          facts_.source.bytes_cut = sources_->bytes_cut();
          facts_.source.failed = sources_->failed();
          if (auto self = sample_process(getpid())) {
            facts_.source.cpu_seconds = self->cpu_seconds - own_cpu_at_window_start_;
          }
        }
        phase_ = Phase::kCollecting;
        phase_deadline_ns_ = now + kCollectGraceNs;
      }
      break;
    case Phase::kCollecting: {
      bool all_ended = true;
      for (const auto& child : children_) all_ended = all_ended && child->ended;
      if (all_ended) return finish();
      if (now > phase_deadline_ns_) return fail("viewer processes did not report in time");
      break;
    }
    case Phase::kDone:
      return;
  }
  if (now >= next_progress_ns_) {
    next_progress_ns_ = now + kSecondNs;
    print_progress(now);
  }
}

// A broadcaster that stops once streaming is the run's failure, reported once (the first).
void Coordinator::note_source_failures() {
  if (!facts_.source.error.empty() || sources_->failed() == 0) return;
  facts_.source.error = sources_->first_error();
  std::cerr << "ringcast-bench: source: " << facts_.source.error << "\n";
}

void Coordinator::open_series() {
  if (options_.series_path.empty()) return;
  series_ = std::fopen(options_.series_path.c_str(), "w");
  if (series_ == nullptr) {
    std::cerr << "ringcast-bench: cannot write " << options_.series_path << "\n";
    return;
  }
  std::fputs(
      "t_s,stage,server_rss_kib,server_cpu_pct,viewers_open,rx_mbps,corrupt,torn,joins,"
      "leaves,source_reconnects\n",
      series_);
}

void Coordinator::send_go(std::uint64_t now) {
  const std::uint64_t ramp_start = now + 20'000'000;
  timeline_ = make_timeline(options_, ramp_start);
  // From the end of the ramp to the end of the window, every --source-reconnect-every seconds.
  if (sources_) sources_->set_reconnects(timeline_.ramp_end_ns, timeline_.window_end_ns);
  // Titles from the start of the ramp (every viewer gets the current one at its first block)
  // to the end of the window.
  if (titles_) titles_->schedule(ramp_start, timeline_.window_end_ns);
  facts_.titles.window_end_ns = timeline_.window_end_ns;
  sample_server(&facts_.server.before_viewers);
  const std::string line = "GO " + std::to_string(ramp_start) + "\n";
  for (auto& child : children_) {
    if (write(child->go_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return fail("a viewer process is gone");
    }
  }
  close_go_pipes();
  phase_ = Phase::kRunning;
}

void Coordinator::close_go_pipes() {
  for (auto& child : children_) {
    if (child->go_fd >= 0) close(child->go_fd);
    child->go_fd = -1;
  }
}

void Coordinator::sample_server(std::optional<ProcSample>* into) {
  if (options_.relay_pid == 0) return;
  *into = sample_process(options_.relay_pid);
  if (!*into && !facts_.server.lost) {
    facts_.server.lost = true;
    std::cerr << "ringcast-bench: server process " << options_.relay_pid << " is gone\n";
  }
  if (*into && (*into)->rss_bytes > facts_.server.rss_max_bytes) {
    facts_.server.rss_max_bytes = (*into)->rss_bytes;
  }
}

void Coordinator::print_progress(std::uint64_t now) {
  if (phase_ != Phase::kRunning && phase_ != Phase::kCollecting) return;
  Progress total;
  for (const auto& child : children_) total.merge(child->progress);
  const char* stage =
      now < timeline_.ramp_start_ns + static_cast<std::uint64_t>(options_.ramp_seconds() * 1e9)
          ? "ramp"
      : now < timeline_.window_start_ns ? "warmup"
      : now < timeline_.window_end_ns   ? "measure"
                                        : "collect";
  const double rx_mbps = static_cast<double>(total.bytes - last_progress_bytes_) * 8 / 1e6;
  last_progress_bytes_ = total.bytes;
  std::string server;
  std::optional<ProcSample> sample;
  sample_server(&sample);
  double cpu = 0;
  if (sample) {
    cpu = last_server_sample_ ? (sample->cpu_seconds - last_server_sample_->cpu_seconds) * 100 : 0;
    char text[96];
    std::snprintf(text, sizeof text, " | server cpu %3.0f%% rss %.1f MB", cpu,
                  sample->rss_bytes / 1e6);
    server = text;
    last_server_sample_ = sample;
    if (window_started_ && now < timeline_.window_end_ns) {
      facts_.server.rss_in_window.emplace_back(
          static_cast<double>(now - timeline_.window_start_ns) / 1e9, sample->rss_bytes);
    }
  }
  std::string soak;
  const std::uint64_t reconnects = sources_ ? sources_->reconnects() : 0;
  if (sources_ && options_.mounts > 1) {
    soak = " | sources " + std::to_string(sources_->streaming()) + "/" +
           std::to_string(options_.mounts) + " streaming";
  }
  if (options_.churn_per_second > 0 || options_.source_reconnect_seconds > 0) {
    soak += " | joins " + std::to_string(total.joins) + ", leaves " + std::to_string(total.leaves) +
            ", reconnects " + std::to_string(reconnects) + ", torn " + std::to_string(total.torn);
  }
  if (total.foreign > 0) soak += " | FOREIGN " + std::to_string(total.foreign);
  if (options_.icy) {
    soak += " | icy titles";
    if (titles_) soak += " set " + std::to_string(titles_->made().size()) + ",";
    soak += " seen " + std::to_string(total.icy_titles);
    if (total.icy_bad_blocks > 0) soak += ", BAD BLOCKS " + std::to_string(total.icy_bad_blocks);
    if (titles_ && titles_->failures() > 0) {
      soak += ", UPDATES FAILED " + std::to_string(titles_->failures());
    }
  }
  const double elapsed =
      static_cast<double>(static_cast<std::int64_t>(now - timeline_.ramp_start_ns)) / 1e9;
  std::fprintf(stderr,
               "[%6.1fs] %-7s viewers %u/%u open, %u failed, %u disconnected | rx %.1f Mbit/s | "
               "corrupt %llu, skipped %llu%s%s\n",
               elapsed, stage, total.open, options_.viewers, total.failures, total.disconnects,
               rx_mbps, static_cast<unsigned long long>(total.corrupt),
               static_cast<unsigned long long>(total.skipped), soak.c_str(), server.c_str());
  if (series_ != nullptr) {
    std::fprintf(series_, "%.1f,%s,%llu,%.1f,%u,%.2f,%llu,%llu,%u,%u,%llu\n", elapsed, stage,
                 sample ? static_cast<unsigned long long>(sample->rss_bytes / 1024) : 0ull, cpu,
                 total.open, rx_mbps, static_cast<unsigned long long>(total.corrupt),
                 static_cast<unsigned long long>(total.torn), total.joins, total.leaves,
                 static_cast<unsigned long long>(reconnects));
    std::fflush(series_);
  }
}

void Coordinator::on_report_bytes(ViewerChild& child, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    child.ended = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&child.pipe), nullptr);
    if (!child.result && phase_ != Phase::kDone) {
      fail("viewer process " + std::to_string(child.pid) + " ended without a result");
    }
    return;
  }
  child.pending.append(buf->base, static_cast<std::size_t>(nread));
  std::size_t newline;
  while ((newline = child.pending.find('\n')) != std::string::npos) {
    on_report_line(child, child.pending.substr(0, newline));
    child.pending.erase(0, newline + 1);
  }
}

void Coordinator::on_report_line(ViewerChild& child, const std::string& line) {
  try {
    const auto json = nlohmann::json::parse(line.substr(2));
    if (line.rfind("P ", 0) == 0) child.progress = progress_from_json(json);
    if (line.rfind("R ", 0) == 0) child.result = process_result_from_json(json);
  } catch (const std::exception& error) {
    fail(std::string("bad report from a viewer process: ") + error.what());
  }
}

void Coordinator::fail(const std::string& message) {
  if (fatal_.empty()) fatal_ = message;
  finish();
}

void Coordinator::finish() {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  close_go_pipes();
  if (sources_) sources_->close();
  if (titles_) {
    facts_.titles.updates = titles_->updates();
    facts_.titles.failures = titles_->failures();
    facts_.titles.error = titles_->first_error();
    facts_.titles.made = titles_->made();
    titles_->close();
  }
  if (!uv_loop_alive(&loop_) && children_.empty()) return;  // the loop never started
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&tick_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  }
  for (auto& child : children_) {
    if (!fatal_.empty() && !child->ended) kill(child->pid, SIGKILL);
  }
}

// libuv callbacks

void Coordinator::tick_cb(uv_timer_t* timer) {
  static_cast<Coordinator*>(timer->data)->on_tick();
}

void Coordinator::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  Coordinator* self = static_cast<ViewerChild*>(handle->data)->owner;
  *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void Coordinator::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* child = static_cast<ViewerChild*>(stream->data);
  if (nread != 0) child->owner->on_report_bytes(*child, nread, buf);
}

}  // namespace

int run_coordinator(Options options) {
  return Coordinator(std::move(options)).run();
}

}  // namespace ringcast::bench
