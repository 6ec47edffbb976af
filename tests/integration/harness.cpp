// The integration tests' shared helpers; see harness.h.
#include "harness.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#ifndef RINGCAST_BINARY
#error "RINGCAST_BINARY must name the ringcast executable"
#endif

namespace ringcast::integration {

namespace {

constexpr auto kStartTimeout = 15s;
constexpr std::string_view kReadyMarker = "listening on http://127.0.0.1:";
constexpr std::string_view kAdminMarker = "admin interface on http://127.0.0.1:";

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// Waits until fd is ready for `events`; false when the deadline passed first.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int rc = ::poll(&entry, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw system_error("poll");
  }
}

}  // namespace

// --- RelayProcess ----------------------------------------------------------------------------

RelayProcess::RelayProcess(std::vector<std::string> extra_args) {
  std::vector<std::string> args = {RINGCAST_BINARY, "--listen", "127.0.0.1:0"};
  const auto has = [&](std::string_view flag) {
    return std::find(extra_args.begin(), extra_args.end(), flag) != extra_args.end();
  };
  if (!has("--source-password") && !has("--icecast-config")) {
    args.insert(args.end(), {"--source-password", std::string(kPassword)});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw system_error("pipe2");
  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("fork");
  if (pid == 0) {
    // Child: dies with the test process even if that is killed (no destructor runs then);
    // stderr into the pipe, the banner (stdout) away, nothing else inherited.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) ::_exit(127);  // the parent is already gone
    ::dup2(pipe_fds[1], STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDIN_FILENO);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  pid_ = pid;
  stderr_fd_ = pipe_fds[0];
  drainer_ = std::thread([this] { drain_stderr(); });

  std::unique_lock lock(mutex_);
  const bool ready = changed_.wait_for(lock, kStartTimeout, [this] {
    return log_.find(kReadyMarker) != std::string::npos || stderr_closed_;
  });
  const auto marker = log_.find(kReadyMarker);
  if (!ready || marker == std::string::npos) {
    const std::string output = log_;
    lock.unlock();
    shut_down();  // a throwing constructor runs no destructor: kill it, join the drainer
    throw std::runtime_error("ringcast did not report readiness; stderr:\n" + output);
  }
  port_ = static_cast<std::uint16_t>(std::stoi(log_.substr(marker + kReadyMarker.size())));
  if (const auto admin = log_.find(kAdminMarker); admin != std::string::npos) {
    admin_port_ = static_cast<std::uint16_t>(std::stoi(log_.substr(admin + kAdminMarker.size())));
  }
}

RelayProcess::~RelayProcess() { shut_down(); }

void RelayProcess::shut_down() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (drainer_.joinable()) drainer_.join();  // the pipe reaches EOF once the child is gone
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  stderr_fd_ = -1;
}

void RelayProcess::drain_stderr() {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(stderr_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      stderr_closed_ = true;
      changed_.notify_all();
      return;
    }
    // Keep the log bounded: a debug-level relay may say a lot; the start and the end matter.
    if (log_.size() < (8u << 20)) log_.append(buffer, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
}

int RelayProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_exit(timeout);
}

int RelayProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t rc = ::waitpid(pid_, &status, WNOHANG);
    if (rc == pid_) break;
    if (rc < 0 && errno != EINTR) throw system_error("waitpid");
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
  if (drainer_.joinable()) drainer_.join();
  const int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_status != 0) {
    // A sanitizer's report (exit status 66 under TSan) or a crash is in the relay's stderr:
    // show its end with the test's failure, or CI keeps only "66 == 0".
    const std::string output = log();
    const std::size_t keep = 16 * 1024;
    std::size_t from = output.size() > keep ? output.size() - keep : 0;
    for (const char* report : {"WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error:"}) {
      from = std::min(from, output.find(report));  // the first report, wherever it is
    }
    std::fprintf(stderr, "ringcast exited with status %d; its stderr from byte %zu:\n%s\n", exit_status, from,
                 output.substr(from, 4 * keep).c_str());
  }
  return exit_status;
}

std::string RelayProcess::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

// --- sockets ---------------------------------------------------------------------------------

Socket::~Socket() { close(); }

Socket connect_loopback_from(std::uint16_t port, std::uint32_t source_host_order) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw system_error("socket");
  Socket socket(fd);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(source_host_order);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) throw system_error("bind");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) throw system_error("connect");
  return socket;
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void Socket::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

Socket connect_loopback(std::uint16_t port, int receive_buffer) {
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) throw system_error("socket");
  if (receive_buffer > 0 &&
      ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer)) != 0) {
    throw system_error("SO_RCVBUF");
  }
  const int one = 1;
  ::setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw system_error("connect to 127.0.0.1:" + std::to_string(port));
  // Non-blocking from here: every wait goes through poll() with a deadline.
  ::fcntl(socket.fd(), F_SETFL, ::fcntl(socket.fd(), F_GETFL) | O_NONBLOCK);
  return socket;
}

void send_all(const Socket& socket, std::span<const std::uint8_t> bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_ready(socket.fd(), POLLOUT, deadline)) throw std::runtime_error("send: deadline passed");
      continue;
    }
    throw system_error("send");
  }
}

void send_all(const Socket& socket, std::string_view text, Clock::time_point deadline) {
  send_all(socket, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), deadline);
}

std::optional<std::size_t> read_some(const Socket& socket, std::uint8_t* into, std::size_t capacity,
                                     Clock::time_point deadline) {
  for (;;) {
    const ssize_t n = ::recv(socket.fd(), into, capacity, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw system_error("recv");
    if (!wait_ready(socket.fd(), POLLIN, deadline)) return std::nullopt;
  }
}

std::optional<std::string> ResponseHead::header(std::string_view name) const {
  std::size_t line_start = text.find("\r\n");
  while (line_start != std::string::npos && line_start + 2 < text.size()) {
    line_start += 2;
    const std::size_t line_end = text.find("\r\n", line_start);
    if (line_end == std::string::npos || line_end == line_start) break;
    const std::string_view line(text.data() + line_start, line_end - line_start);
    const std::size_t colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    line_start = line_end;
  }
  return std::nullopt;
}

ResponseHead read_response_head(const Socket& socket, Clock::time_point deadline) {
  ResponseHead head;
  std::string received;
  std::uint8_t buffer[4096];
  for (;;) {
    const auto n = read_some(socket, buffer, sizeof(buffer), deadline);
    if (!n) throw std::runtime_error("no complete response head before the deadline; got: " + received);
    if (*n == 0) throw std::runtime_error("EOF before a complete response head; got: " + received);
    received.append(reinterpret_cast<const char*>(buffer), *n);
    const auto end = received.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    head.text = received.substr(0, end + 4);
    head.leftover.assign(received.begin() + static_cast<std::ptrdiff_t>(end + 4), received.end());
    // "HTTP/1.x NNN reason"
    if (head.text.size() < 12 || head.text.compare(0, 5, "HTTP/") != 0) {
      throw std::runtime_error("not an HTTP response: " + head.text);
    }
    head.status = std::stoi(head.text.substr(9, 3));
    return head;
  }
}

std::string read_to_eof(const Socket& socket, Clock::time_point deadline, std::size_t limit) {
  std::string out;
  std::uint8_t buffer[16384];
  while (out.size() < limit) {
    const auto n = read_some(socket, buffer, sizeof(buffer), deadline);
    if (!n) throw std::runtime_error("no EOF before the deadline after " + std::to_string(out.size()) + " bytes");
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buffer), *n);
  }
  return out;
}

Response http_exchange(std::uint16_t port, std::string_view request, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Socket socket = connect_loopback(port);
  send_all(socket, request, deadline);
  Response response;
  response.head = read_response_head(socket, deadline);
  response.body.assign(response.head.leftover.begin(), response.head.leftover.end());
  response.body += read_to_eof(socket, deadline);
  return response;
}

nlohmann::json fetch_stats(std::uint16_t port) {
  const Response response = http_exchange(port, "GET /stats HTTP/1.0\r\n\r\n");
  if (response.head.status != 200) throw std::runtime_error("/stats answered " + response.head.text);
  return nlohmann::json::parse(response.body);
}

nlohmann::json mount_stats(std::uint16_t port, const std::string& mount) {
  const nlohmann::json stats = fetch_stats(port);
  const auto& mounts = stats.at("mounts");
  return mounts.contains(mount) ? mounts.at(mount) : nlohmann::json();
}

std::string base64(std::string_view text) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t(std::uint8_t(text[i])) << 16) |
                            (std::uint32_t(std::uint8_t(text[i + 1])) << 8) | std::uint8_t(text[i + 2]);
    out += {alphabet[n >> 18], alphabet[(n >> 12) & 63], alphabet[(n >> 6) & 63], alphabet[n & 63]};
  }
  if (i + 1 == text.size()) {
    const std::uint32_t n = std::uint32_t(std::uint8_t(text[i])) << 16;
    out += {alphabet[n >> 18], alphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    const std::uint32_t n = (std::uint32_t(std::uint8_t(text[i])) << 16) | (std::uint32_t(std::uint8_t(text[i + 1])) << 8);
    out += {alphabet[n >> 18], alphabet[(n >> 12) & 63], alphabet[(n >> 6) & 63], '='};
  }
  return out;
}

std::string basic_auth(std::string_view user, std::string_view password) {
  return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// --- payload ---------------------------------------------------------------------------------

namespace {
std::uint8_t filler(std::uint64_t sequence, std::size_t index) {
  // Mixes the sequence in, so a packet spliced from two others does not verify.
  const std::uint64_t x = (sequence * 0x9E3779B97F4A7C15ull) ^ (index * 0xBF58476D1CE4E5B9ull);
  return static_cast<std::uint8_t>((x >> 29) ^ (x >> 7) ^ index);
}
}  // namespace

std::uint8_t pattern_byte(std::uint64_t stream_offset) {
  const std::uint64_t sequence = stream_offset / kPacketBytes;
  const std::size_t index = stream_offset % kPacketBytes;
  if (index == 0) return 0x47;
  if (index <= 8) return static_cast<std::uint8_t>(sequence >> (8 * (index - 1)));
  return filler(sequence, index);
}

void fill_pattern(std::uint64_t stream_offset, std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(stream_offset + i);
}

std::vector<std::uint8_t> pattern(std::uint64_t stream_offset, std::size_t length) {
  std::vector<std::uint8_t> bytes(length);
  fill_pattern(stream_offset, bytes);
  return bytes;
}

void PacketChecker::feed(std::span<const std::uint8_t> bytes) {
  bytes_ += bytes.size();
  while (!bytes.empty() && ok()) {
    const std::size_t n = std::min(bytes.size(), kPacketBytes - filled_);
    std::memcpy(packet_ + filled_, bytes.data(), n);
    filled_ += n;
    bytes = bytes.subspan(n);
    if (filled_ == kPacketBytes) {
      check_packet();
      filled_ = 0;
    }
  }
}

void PacketChecker::check_packet() {
  if (packet_[0] != 0x47) {
    fail("packet " + std::to_string(packets_) + " of this viewer has no sync byte (0x" +
         std::to_string(packet_[0]) + ")");
    return;
  }
  std::uint64_t sequence = 0;
  for (int i = 0; i < 8; ++i) sequence |= std::uint64_t{packet_[1 + i]} << (8 * i);
  for (std::size_t i = 9; i < kPacketBytes; ++i) {
    if (packet_[i] != pattern_byte(sequence * kPacketBytes + i)) {
      fail("packet " + std::to_string(packets_) + " of this viewer (sequence " + std::to_string(sequence) +
           ") is corrupt at byte " + std::to_string(i) + " (spliced or overwritten)");
      return;
    }
  }
  if (packets_ == 0) {
    first_sequence_ = sequence;
  } else if (sequence != last_sequence_ + 1) {
    if (sequence <= last_sequence_) {
      fail("sequence went back from " + std::to_string(last_sequence_) + " to " + std::to_string(sequence));
      return;
    }
    if (contiguous_) {
      fail("gap: packet " + std::to_string(sequence) + " follows " + std::to_string(last_sequence_));
      return;
    }
    ++jumps_;
  }
  last_sequence_ = sequence;
  ++packets_;
}

void PacketChecker::finish() {
  if (!ok() || filled_ == 0) return;
  // A cut final packet: must be the start of a valid packet.
  if (packet_[0] != 0x47) {
    fail("trailing partial packet has no sync byte");
    return;
  }
  if (filled_ < 9) return;  // too short to know its sequence
  std::uint64_t sequence = 0;
  for (int i = 0; i < 8; ++i) sequence |= std::uint64_t{packet_[1 + i]} << (8 * i);
  for (std::size_t i = 9; i < filled_; ++i) {
    if (packet_[i] != pattern_byte(sequence * kPacketBytes + i)) {
      fail("trailing partial packet (sequence " + std::to_string(sequence) + ") is corrupt");
      return;
    }
  }
  if (packets_ > 0 && sequence <= last_sequence_) fail("trailing partial packet goes back in sequence");
  if (packets_ > 0 && contiguous_ && sequence != last_sequence_ + 1) fail("trailing partial packet after a gap");
}

void PacketChecker::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

// --- source ----------------------------------------------------------------------------------

std::string source_request_head(const SourceOptions& options) {
  const std::string version = options.method == "SOURCE" ? "HTTP/1.0" : "HTTP/1.1";
  std::string head = options.method + " " + options.mount + " " + version + "\r\n" +
                     "Host: 127.0.0.1\r\n" + "Authorization: " + basic_auth("source", options.password) +
                     "\r\n" + "Content-Type: " + options.content_type + "\r\n" +
                     "User-Agent: ringcast-integration-tests\r\n";
  if (options.expect_continue) head += "Expect: 100-continue\r\n";
  for (const auto& header : options.extra_headers) head += header + "\r\n";
  return head + "\r\n";
}

SourceConnection connect_source(std::uint16_t port, const SourceOptions& options,
                                std::span<const std::uint8_t> early_body) {
  const auto deadline = Clock::now() + 10s;
  SourceConnection source{connect_loopback(port), {}};
  std::string request = source_request_head(options);
  request.append(reinterpret_cast<const char*>(early_body.data()), early_body.size());
  send_all(source.socket, request, deadline);
  source.response = read_response_head(source.socket, deadline);
  if (source.response.status != 100 && source.response.status != 200) {
    throw std::runtime_error("source refused: " + source.response.text);
  }
  return source;
}

PacedSource::PacedSource(Socket socket, std::uint64_t start_offset, std::uint64_t total,
                         double bytes_per_second, std::size_t chunk)
    : socket_(std::move(socket)), start_offset_(start_offset), total_(total), rate_(bytes_per_second), chunk_(chunk) {
  thread_ = std::thread([this] { run(); });
}

PacedSource::~PacedSource() {
  if (thread_.joinable()) thread_.join();
}

void PacedSource::join() {
  if (thread_.joinable()) thread_.join();
}

void PacedSource::stop() {
  stop_.store(true);
  join();
}

std::chrono::milliseconds PacedSource::planned() const {
  if (rate_ <= 0) return 0ms;
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(total_) / rate_ * 1000.0));
}

std::chrono::milliseconds PacedSource::took() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(finished_ - started_);
}

void PacedSource::run() {
  started_ = Clock::now();
  // Generous: a source whose sends block for this long is certainly being held back.
  const auto deadline = started_ + planned() + 60s;
  std::vector<std::uint8_t> buffer(chunk_);
  try {
    std::uint64_t sent = 0;
    while (sent < total_ && !stop_.load()) {
      if (rate_ > 0) {
        const auto due = started_ + std::chrono::microseconds(static_cast<std::int64_t>(
                                        static_cast<double>(sent) / rate_ * 1e6));
        std::this_thread::sleep_until(due);
      }
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, total_ - sent));
      fill_pattern(start_offset_ + sent, std::span(buffer.data(), n));
      send_all(socket_, std::span<const std::uint8_t>(buffer.data(), n), deadline);
      sent += n;
      sent_.store(sent);
    }
  } catch (const std::exception& e) {
    error_ = e.what();
  }
  finished_ = Clock::now();
  socket_.close();
  done_.store(true);
}

// --- viewer ----------------------------------------------------------------------------------

Viewer::Viewer(std::uint16_t port, std::string mount, Options options)
    : port_(port), mount_(std::move(mount)), options_(options), checker_(options.contiguous) {
  const auto deadline = Clock::now() + 10s;
  socket_ = connect_loopback(port_, options_.receive_buffer);
  send_all(socket_, "GET " + mount_ + " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: ringcast-integration-tests\r\n\r\n",
           deadline);
  // Read the head here: when the constructor returns, the relay has attached this viewer.
  response_ = read_response_head(socket_, deadline);
  if (response_.status != 200) throw std::runtime_error("viewer refused: " + response_.text);
  take(response_.leftover);
  paused_.store(options_.start_paused);
  thread_ = std::thread([this] { run(); });
}

Viewer::~Viewer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void Viewer::join() {
  if (thread_.joinable()) thread_.join();
}

void Viewer::hang_up() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (!eof_.load()) checker_.finish();  // a cut packet at the end must still be a valid prefix
  socket_.close();
}

void Viewer::take(std::span<const std::uint8_t> bytes) {
  checker_.feed(bytes);
  if (options_.keep_stream) stream_.insert(stream_.end(), bytes.begin(), bytes.end());
  received_.fetch_add(bytes.size());
}

void Viewer::run() {
  const auto started = Clock::now();
  const auto deadline = started + options_.deadline;
  std::vector<std::uint8_t> buffer(options_.read_bytes);
  try {
    while (!stop_.load()) {
      if (Clock::now() >= deadline) {
        error_ = "no EOF within the viewer's deadline after " + std::to_string(received_.load()) + " bytes";
        return;
      }
      if (paused_.load()) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (options_.bytes_per_second > 0) {
        const auto due = started + std::chrono::microseconds(static_cast<std::int64_t>(
                                       static_cast<double>(received_.load()) / options_.bytes_per_second * 1e6));
        if (due > Clock::now()) {
          std::this_thread::sleep_until(std::min({due, deadline, Clock::now() + 50ms}));
          continue;
        }
      }
      // Short slices, so pause() and stop take effect promptly.
      const auto slice = std::min(deadline, Clock::now() + 50ms);
      const auto n = read_some(socket_, buffer.data(), buffer.size(), slice);
      if (!n) continue;
      if (*n == 0) {
        checker_.finish();
        eof_.store(true);
        return;
      }
      take(std::span<const std::uint8_t>(buffer.data(), *n));
    }
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

std::vector<std::string> xpath_texts(const std::string& xml, const std::string& expression) {
  const std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "admin.xml", nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR),
      xmlFreeDoc);
  if (!doc) throw std::runtime_error("not well-formed XML: " + xml.substr(0, 200));
  const std::unique_ptr<xmlXPathContext, void (*)(xmlXPathContext*)> context(xmlXPathNewContext(doc.get()),
                                                                              xmlXPathFreeContext);
  const std::unique_ptr<xmlXPathObject, void (*)(xmlXPathObject*)> result(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expression.c_str()), context.get()),
      xmlXPathFreeObject);
  if (!result) throw std::runtime_error("bad XPath: " + expression);
  std::vector<std::string> texts;
  if (result->nodesetval == nullptr) return texts;
  for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
    xmlChar* content = xmlNodeGetContent(result->nodesetval->nodeTab[i]);
    texts.emplace_back(content ? reinterpret_cast<const char*>(content) : "");
    xmlFree(content);
  }
  return texts;
}

// A PAT (program 1, PMT on PID 0x1000) and a PMT (H.264 on PID 0x100), then a null packet: enough
// for the relay to know an MPEG-TS video mount and serve its HLS playlist. CRCs are left zero
// (the tracker does not check them).
std::vector<std::uint8_t> ts_pat_and_pmt() {
  std::vector<std::uint8_t> out;
  const auto section = [&](std::uint16_t pid, std::vector<std::uint8_t> body) {
    std::vector<std::uint8_t> packet = {0x47, static_cast<std::uint8_t>(0x40 | (pid >> 8)),
                                        static_cast<std::uint8_t>(pid & 0xff), 0x10, 0x00};
    const std::size_t length = body.size() - 1 + 4;  // after section_length, with the CRC
    packet.push_back(body[0]);
    packet.push_back(static_cast<std::uint8_t>(0xb0 | (length >> 8)));
    packet.push_back(static_cast<std::uint8_t>(length & 0xff));
    packet.insert(packet.end(), body.begin() + 1, body.end());
    packet.insert(packet.end(), {0, 0, 0, 0});
    packet.resize(kPacketBytes, 0xff);
    out.insert(out.end(), packet.begin(), packet.end());
  };
  section(0x0000, {0x00, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00});
  section(0x1000, {0x02, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00});
  // A null packet: the tracker takes a packet as whole once the next one's sync byte is there.
  std::vector<std::uint8_t> null_packet = {0x47, 0x1f, 0xff, 0x10};
  null_packet.resize(kPacketBytes, 0xff);
  out.insert(out.end(), null_packet.begin(), null_packet.end());
  return out;
}

TempDir::TempDir() {
  char name[] = "/tmp/ringcast-test-XXXXXX";
  if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp");
  path = name;
}

TempDir::~TempDir() { std::filesystem::remove_all(path); }

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace ringcast::integration
