// Shared helpers of the integration tests: the real ringcast binary as a child process,
// blocking loopback sockets with deadlines, a verifiable MPEG-TS-shaped payload, a paced source
// and a viewer that checks every byte it receives.
#pragma once

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ringcast::integration {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr std::string_view kPassword = "hackme";

// --- the relay under test -------------------------------------------------------------------

// Runs `ringcast --listen 127.0.0.1:0 --source-password hackme <extra>` (without that password
// when <extra> names one or an icecast.xml, whose own passwords are under test) and waits
// (bounded, no fixed sleep) for its "listening on" line. stderr is drained into log() all the time, so a
// chatty relay never blocks on a full pipe. The destructor always kills it.
class RelayProcess {
 public:
  explicit RelayProcess(std::vector<std::string> extra_args = {});
  ~RelayProcess();
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }  // 0: no --admin-listen
  // SIGTERM, then waits (bounded) for the exit. Returns the exit status, or -1 for a signal
  // or a timeout (the process is then killed). Callers assert it is 0.
  int stop(std::chrono::milliseconds timeout = 10s);
  // Waits (bounded) for the relay to exit by itself, e.g. after a drain; as stop() returns.
  int wait_exit(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // for /proc/<pid>/... (descriptors, memory)
  std::string log() const;

 private:
  void drain_stderr();
  void shut_down();  // kills the relay (if running), joins the drainer, closes the pipe

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::thread drainer_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
  bool stderr_closed_ = false;
};

// --- sockets ---------------------------------------------------------------------------------

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close();
  void shutdown_write();

 private:
  int fd_ = -1;
};

// Connects to 127.0.0.1:port (blocking). receive_buffer > 0 sets SO_RCVBUF before connecting,
// so the advertised window stays small. Throws on failure.
Socket connect_loopback(std::uint16_t port, int receive_buffer = 0);
// A connection from another loopback address (0x7f000002: 127.0.0.2; all of 127.0.0.0/8 is
// loopback), so that a test can play several clients or proxies.
Socket connect_loopback_from(std::uint16_t port, std::uint32_t source_host_order);

// Sends everything or throws (peer closed, error, deadline).
void send_all(const Socket& socket, std::span<const std::uint8_t> bytes, Clock::time_point deadline);
void send_all(const Socket& socket, std::string_view text, Clock::time_point deadline);

// Reads up to `capacity` bytes: >0 bytes read, 0 EOF, nullopt deadline passed. Throws on error
// other than a reset (ECONNRESET counts as EOF: the peer is gone either way).
std::optional<std::size_t> read_some(const Socket& socket, std::uint8_t* into, std::size_t capacity,
                                     Clock::time_point deadline);

struct ResponseHead {
  int status = 0;
  std::string text;                   // the whole head including the final CRLFCRLF
  std::vector<std::uint8_t> leftover;  // bytes read past the head
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive
};

// Reads one response head (through "\r\n\r\n"). Throws on EOF first or on the deadline.
ResponseHead read_response_head(const Socket& socket, Clock::time_point deadline);

// Reads until EOF (or `limit` bytes, or the deadline: then throws).
std::string read_to_eof(const Socket& socket, Clock::time_point deadline, std::size_t limit = 1 << 20);

struct Response {
  ResponseHead head;
  std::string body;
};
// One request on a fresh connection; the whole response up to the relay's close.
Response http_exchange(std::uint16_t port, std::string_view request, std::chrono::milliseconds timeout = 10s);

// GET /stats, parsed.
nlohmann::json fetch_stats(std::uint16_t port);
// The mount's object in /stats (null when the mount does not exist).
nlohmann::json mount_stats(std::uint16_t port, const std::string& mount);

// Icecast's admin documents, read as AzuraCast and LibreTime read them: the text of every node
// an XPath expression selects (libxml2). Throws when `xml` is not well-formed XML.
std::vector<std::string> xpath_texts(const std::string& xml, const std::string& expression);

std::string base64(std::string_view text);
std::string basic_auth(std::string_view user, std::string_view password);

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether
// it held. (Polling for an observable state, never a sleep that hopes something happened.)
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// --- the payload -----------------------------------------------------------------------------
//
// Packet k (bytes [188k, 188k+188) of the stream): 0x47, k as a little-endian u64, then 179
// filler bytes derived from k. A viewer can verify any packet on its own, so it can check every
// byte wherever it joined or was skipped to.

inline constexpr std::size_t kPacketBytes = 188;

std::uint8_t pattern_byte(std::uint64_t stream_offset);
void fill_pattern(std::uint64_t stream_offset, std::span<std::uint8_t> out);
std::vector<std::uint8_t> pattern(std::uint64_t stream_offset, std::size_t length);

// MPEG-TS with video: a PAT (program 1, PMT on PID 0x1000) and a PMT (H.264 on PID 0x100),
// then a null packet (the relay's tracker takes a packet as whole once the next one begins).
inline constexpr std::uint16_t kTsVideoPid = 0x100;
std::vector<std::uint8_t> ts_pat_and_pmt();

// Checks a viewer's stream (the bytes after its response head) packet by packet.
class PacketChecker {
 public:
  // contiguous: every packet must be the one after the previous (no skip allowed).
  explicit PacketChecker(bool contiguous) : contiguous_(contiguous) {}

  void feed(std::span<const std::uint8_t> bytes);
  // At EOF: a trailing partial packet is allowed (a close may cut one) but must be a valid
  // prefix of the packet that was due.
  void finish();

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::uint64_t packets() const { return packets_; }
  std::uint64_t first_sequence() const { return first_sequence_; }
  std::uint64_t last_sequence() const { return last_sequence_; }
  std::uint64_t jumps() const { return jumps_; }  // forward gaps in the sequence (skips)
  std::uint64_t bytes() const { return bytes_; }

 private:
  void check_packet();
  void fail(std::string message);

  bool contiguous_;
  std::uint8_t packet_[kPacketBytes]{};
  std::size_t filled_ = 0;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t first_sequence_ = 0;
  std::uint64_t last_sequence_ = 0;
  std::uint64_t jumps_ = 0;
  std::string error_;
};

// --- files -----------------------------------------------------------------------------------

// A temporary directory removed with everything in it.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

void write_file(const std::filesystem::path& path, const std::string& text);

// --- clients ---------------------------------------------------------------------------------

struct SourceOptions {
  std::string mount = "/live.ts";
  std::string method = "PUT";
  std::string content_type = "video/mp2t";
  bool expect_continue = true;
  std::string password = std::string(kPassword);
  std::vector<std::string> extra_headers;  // "Name: value"
};

std::string source_request_head(const SourceOptions& options);

// A connected, accepted source: the relay has answered 100 Continue or 200 OK.
struct SourceConnection {
  Socket socket;
  ResponseHead response;
};
// Throws when the relay answers anything but 100/200.
SourceConnection connect_source(std::uint16_t port, const SourceOptions& options = {},
                                std::span<const std::uint8_t> early_body = {});

// Sends the pattern from `start_offset` for `total` bytes at `bytes_per_second` (0: as fast as
// the relay takes it), on its own thread, then closes its socket.
class PacedSource {
 public:
  PacedSource(Socket socket, std::uint64_t start_offset, std::uint64_t total, double bytes_per_second,
              std::size_t chunk = 16 * 1024);
  ~PacedSource();

  void join();
  // Ends the stream now (within one chunk's time), closes the socket and joins.
  void stop();
  std::uint64_t sent() const { return sent_.load(); }
  bool done() const { return done_.load(); }
  const std::string& error() const { return error_; }  // after join()
  std::chrono::milliseconds planned() const;
  std::chrono::milliseconds took() const;  // after join()

 private:
  void run();

  Socket socket_;
  std::uint64_t start_offset_;
  std::uint64_t total_;
  double rate_;
  std::size_t chunk_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  Clock::time_point started_{};
  Clock::time_point finished_{};
  std::string error_;
  std::thread thread_;
};

// A viewer on its own thread: GET, response head, then reads and checks every byte until EOF
// or its deadline. pause() stops reading (the socket is left alone) until resume().
class Viewer {
 public:
  struct Options {
    bool contiguous = true;
    int receive_buffer = 0;
    std::size_t read_bytes = 64 * 1024;
    std::chrono::milliseconds deadline = 60s;  // give up (and record an error) after this
    bool start_paused = false;
    double bytes_per_second = 0;  // > 0: read no faster than this (a slow player)
    bool keep_stream = false;     // keep every byte received, for stream()
  };
  Viewer(std::uint16_t port, std::string mount, Options options);
  Viewer(std::uint16_t port, std::string mount) : Viewer(port, std::move(mount), Options{}) {}
  ~Viewer();

  void pause() { paused_.store(true); }
  void resume() { paused_.store(false); }
  // Waits for EOF (bounded by the viewer's own deadline).
  void join();
  // Stops reading and closes, for viewers that are not expected to see EOF.
  void hang_up();

  std::uint64_t received() const { return received_.load(); }
  bool eof() const { return eof_.load(); }
  // After join()/hang_up():
  const ResponseHead& response() const { return response_; }
  const PacketChecker& checker() const { return checker_; }
  const std::string& error() const { return error_; }  // transport errors, timeouts
  // Every byte after the response head (only with Options::keep_stream), after join()/hang_up().
  const std::vector<std::uint8_t>& stream() const { return stream_; }

 private:
  void run();
  void take(std::span<const std::uint8_t> bytes);

  std::uint16_t port_;
  std::string mount_;
  Options options_;
  Socket socket_;
  ResponseHead response_;
  PacketChecker checker_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<bool> paused_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> eof_{false};
  std::string error_;
  std::vector<std::uint8_t> stream_;
  std::thread thread_;
};

}  // namespace ringcast::integration
