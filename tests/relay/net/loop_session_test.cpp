// The sessions on real loops, in the style of libuv's own tests: the relay runs in this process
// on a fresh main loop (its workers on their own), the clients are libuv handles on that same
// loop, every callback is counted, and the counters are asserted after uv_run returns. uv_run
// returns only once the relay has stopped and every client handle is closed; then the main loop
// and every worker's loop must close with nothing left open (uv_loop_close() == 0).
//
// What the binary-level integration tests cannot see from outside: a source session receiving
// into the ring and a viewer session writing its views, down to each callback, and a relay that
// stops with a viewer's write still in flight, leaving no handle and (under the sanitizers) no
// memory behind.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ringcast/app/command_line.h"
#include "ringcast/net/relay.h"

using namespace ringcast::relay;

namespace {

constexpr std::uint64_t kGuardMs = 20'000;  // a test that has not finished by then has failed

// The stream's byte at position i: a pattern with no period a ring could alias.
char pattern_byte(std::uint64_t i) {
  return static_cast<char>((i * 2654435761u) >> 13);
}

std::string pattern(std::uint64_t from, std::uint64_t n) {
  std::string bytes(n, '\0');
  for (std::uint64_t i = 0; i < n; ++i) bytes[i] = pattern_byte(from + i);
  return bytes;
}

// How many leading bytes of `body` are the stream's from its start.
std::uint64_t matching_prefix(const std::string& body) {
  std::uint64_t i = 0;
  while (i < body.size() && body[i] == pattern_byte(i)) ++i;
  return i;
}

// One client connection on the test's loop: connects, writes what it is given in order (one
// write in flight at a time), reads everything into `received` until the relay closes it,
// then closes its handle. Every callback is counted.
struct Client {
  uv_tcp_t tcp{};
  uv_connect_t connect_request{};
  uv_write_t write_request{};
  std::string received;
  std::vector<std::string> to_write;  // written in order once connected
  std::size_t next_write = 0;
  std::string writing;  // the buffer of the write in flight
  bool connected = false;
  bool reading = false;
  int connect_cbs = 0;
  int write_cbs = 0;
  int write_errors = 0;
  int eofs = 0;
  int read_errors = 0;
  int close_cbs = 0;
  std::function<void(Client&)> on_received;  // after each read that brought bytes
  std::function<void(Client&)> on_written;   // after each write that completed

  void open(uv_loop_t* loop, std::uint16_t port, int receive_buffer = 0) {
    REQUIRE(uv_tcp_init_ex(loop, &tcp, AF_INET) == 0);
    tcp.data = this;
    // Before connecting: the window it advertises is what the kernel lets the relay send ahead.
    if (receive_buffer != 0)
      REQUIRE(uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&tcp), &receive_buffer) == 0);
    sockaddr_in address{};
    REQUIRE(uv_ip4_addr("127.0.0.1", port, &address) == 0);
    REQUIRE(uv_tcp_connect(&connect_request, &tcp, reinterpret_cast<const sockaddr*>(&address),
                           connect_cb) == 0);
  }
  void send(std::string bytes) {
    to_write.push_back(std::move(bytes));
    if (connected) write_next();
  }
  void start_reading() {
    if (reading || uv_is_closing(handle())) return;
    reading = true;
    REQUIRE(uv_read_start(stream(), alloc_cb, read_cb) == 0);
  }
  void stop_reading() {
    reading = false;
    uv_read_stop(stream());
  }
  void close() {
    if (!uv_is_closing(handle())) uv_close(handle(), close_cb);
  }
  // The body after the response head (empty until the head is in).
  std::string body() const {
    const auto end = received.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : received.substr(end + 4);
  }
  bool head_in() const { return received.find("\r\n\r\n") != std::string::npos; }

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&tcp); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

  void write_next() {
    if (!writing.empty() || next_write == to_write.size() || uv_is_closing(handle())) return;
    writing = std::move(to_write[next_write++]);
    uv_buf_t buffer = uv_buf_init(writing.data(), static_cast<unsigned>(writing.size()));
    REQUIRE(uv_write(&write_request, stream(), &buffer, 1, write_cb) == 0);
  }

  static void connect_cb(uv_connect_t* request, int status) {
    auto* self = static_cast<Client*>(request->handle->data);
    ++self->connect_cbs;
    REQUIRE(status == 0);
    self->connected = true;
    self->start_reading();
    self->write_next();
  }
  static void write_cb(uv_write_t* request, int status) {
    auto* self = static_cast<Client*>(request->handle->data);
    ++self->write_cbs;
    self->writing.clear();
    if (status != 0) {
      ++self->write_errors;
      return;
    }
    if (self->on_written) self->on_written(*self);
    self->write_next();
  }
  static void alloc_cb(uv_handle_t*, std::size_t, uv_buf_t* buffer) {
    static char scratch[64 * 1024];  // the test's one loop thread reads into it, then copies
    *buffer = uv_buf_init(scratch, sizeof(scratch));
  }
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
    auto* self = static_cast<Client*>(stream->data);
    if (nread > 0) {
      self->received.append(buffer->base, static_cast<std::size_t>(nread));
      if (self->on_received) self->on_received(*self);
      return;
    }
    if (nread == 0) return;
    if (nread == UV_EOF) {
      ++self->eofs;
    } else {
      ++self->read_errors;
    }
    self->close();
  }
  static void close_cb(uv_handle_t* handle) { ++static_cast<Client*>(handle->data)->close_cbs; }
};

// The relay in this process on a fresh main loop, with a guard timer that stops everything if
// the test has not finished by kGuardMs.
struct LoopFixture {
  uv_loop_t loop{};
  uv_timer_t guard{};
  std::optional<Relay> relay;
  std::uint16_t port = 0;
  bool guard_fired = false;
  bool stopped = false;
  std::vector<Client*> clients;  // closed when the guard fires

  // The relay as `ringcast --listen 127.0.0.1:0 --source-password hackme --workers N` runs.
  explicit LoopFixture(std::size_t workers = 1, std::size_t ring_bytes = 0) {
    spdlog::set_level(spdlog::level::warn);
    REQUIRE(uv_loop_init(&loop) == 0);
    const std::string loops = std::to_string(workers);
    std::vector<std::string> args = {"ringcast", "--listen",  "127.0.0.1:0", "--source-password",
                                     "hackme",   "--workers", loops,         "--max-connections",
                                     "1000"};
    if (ring_bytes != 0) args.insert(args.end(), {"--ring-size", std::to_string(ring_bytes)});
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    CommandLine command_line = parse_command_line(static_cast<int>(argv.size()), argv.data());
    REQUIRE_FALSE(command_line.exit_code);
    RelayConfig config = std::move(command_line.config);
    relay.emplace(&loop, std::move(config));
    REQUIRE_FALSE(relay->start());
    port = relay->bound_port();
    REQUIRE(uv_timer_init(&loop, &guard) == 0);
    guard.data = this;
    REQUIRE(uv_timer_start(&guard, guard_cb, kGuardMs, 0) == 0);
  }
  ~LoopFixture() { spdlog::set_level(spdlog::level::info); }

  // Stops the relay (every connection closed at once, as on SIGINT) and the guard; uv_run
  // returns once the relay's loops are down and the clients have closed.
  void stop() {
    if (stopped) return;
    stopped = true;
    relay->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
  }
  // Runs the loop to its end, then checks that everything closed.
  void run_to_end() {
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK_FALSE(guard_fired);
    CHECK(relay->loops_closed_clean());
    relay.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }

  static void guard_cb(uv_timer_t* timer) {
    auto* self = static_cast<LoopFixture*>(timer->data);
    self->guard_fired = true;
    for (Client* client : self->clients) client->close();
    self->stop();
  }
};

// The most a TCP socket's send buffer grows to (tcp_wmem's third field; 4 MiB by default).
std::uint64_t kernel_send_buffer_max() {
  std::ifstream file("/proc/sys/net/ipv4/tcp_wmem");
  std::uint64_t least = 0, initial = 0, most = 0;
  return file >> least >> initial >> most ? most : 4 * 1024 * 1024;
}

// Polls every millisecond (for 10 s at most) until the relay's loops have let every viewer go,
// then calls `then` and closes its timer.
struct UntilViewersGone {
  static constexpr int kMaxPolls = 10'000;
  uv_timer_t timer{};
  Relay* relay = nullptr;
  std::function<void()> then;
  int polls = 0;
  bool done = false;

  void start(uv_loop_t& loop, Relay& watched, std::function<void()> action) {
    relay = &watched;
    then = std::move(action);
    timer.data = this;
    REQUIRE(uv_timer_init(&loop, &timer) == 0);
    REQUIRE(uv_timer_start(&timer, poll_cb, 1, 1) == 0);
  }
  static void poll_cb(uv_timer_t* handle) {
    auto* self = static_cast<UntilViewersGone*>(handle->data);
    if (self->relay->viewers_connected() != 0 && ++self->polls < kMaxPolls) return;
    self->done = self->polls < kMaxPolls;
    self->then();
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
};

std::string source_head(const std::string& mount) {
  // source:hackme
  return "SOURCE " + mount +
         " HTTP/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n"
         "Content-Type: application/octet-stream\r\n\r\n";
}

nlohmann::json mount_stats(Relay& relay, const std::string& mount) {
  const nlohmann::json stats = nlohmann::json::parse(relay.stats_json());
  return stats.at("mounts").value(mount, nlohmann::json::object());
}

}  // namespace

TEST_CASE(
    "a source session receives into the ring and a viewer session writes every byte of it, "
    "then every loop closes clean",
    "[loop]") {
  LoopFixture fixture;
  constexpr std::uint64_t kFirst = 16 * 1024;  // before the viewer joins: inside its burst
  constexpr std::uint64_t kChunk = 4 * 1024;
  constexpr std::uint64_t kTotal = 256 * 1024;

  Client source;
  Client viewer;
  fixture.clients = {&source, &viewer};
  bool viewer_started = false;
  std::uint64_t received_by_relay = 0;

  // The source's 200 OK means the mount exists: the first bytes go, then the viewer comes.
  source.on_received = [&](Client& self) {
    if (viewer_started || !self.head_in()) return;
    viewer_started = true;
    self.send(pattern(0, kFirst));
    viewer.open(&fixture.loop, fixture.port);
    viewer.send("GET /live HTTP/1.0\r\n\r\n");
  };
  // Once the viewer hears the stream, the source sends the rest in 4 KiB writes.
  bool rest_sent = false;
  viewer.on_received = [&](Client& self) {
    if (!rest_sent && !self.body().empty()) {
      rest_sent = true;
      for (std::uint64_t at = kFirst; at < kTotal; at += kChunk) source.send(pattern(at, kChunk));
    }
    if (self.body().size() >= kTotal) {
      received_by_relay = mount_stats(*fixture.relay, "/live").value("bytes_in", std::uint64_t{0});
      fixture.stop();
    }
  };
  source.open(&fixture.loop, fixture.port);
  source.send(source_head("/live"));

  fixture.run_to_end();
  CHECK(source.connect_cbs == 1);
  CHECK(viewer.connect_cbs == 1);
  CHECK(source.write_cbs == 1 + 1 + static_cast<int>((kTotal - kFirst) / kChunk));
  CHECK(source.write_errors == 0);
  CHECK(source.received.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(viewer.received.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  const std::string body = viewer.body();
  CHECK(body.size() == kTotal);
  CHECK(matching_prefix(body) == kTotal);
  CHECK(received_by_relay == kTotal);
  // The relay's stop closed both: each saw the end, then closed its handle.
  CHECK(source.eofs + source.read_errors == 1);
  CHECK(viewer.eofs + viewer.read_errors == 1);
  CHECK(source.close_cbs == 1);
  CHECK(viewer.close_cbs == 1);
}

TEST_CASE(
    "the relay stops with a viewer's write in flight: the loops close clean, and what the "
    "viewer got is the stream's start",
    "[loop]") {
  // The stalled viewer must be owed more than the kernel can hold for it: the relay's socket
  // buffer grows up to tcp_wmem's maximum. The ring is four times what is sent, so the lane's lag
  // limit (half the ring) never drops the stalled viewer: its write is in flight when the relay
  // stops.
  const std::uint64_t kTotal = kernel_send_buffer_max() + 2 * 1024 * 1024;
  LoopFixture fixture(2, 4 * kTotal);  // two viewers, perhaps on two loops: both must close clean
  constexpr std::uint64_t kChunk = 64 * 1024;
  Client source;
  Client reader;   // reads everything
  Client stalled;  // reads its head, then nothing until the relay has stopped
  fixture.clients = {&source, &reader, &stalled};
  bool viewers_started = false;
  bool sent = false;
  nlohmann::json before_stop;
  UntilViewersGone viewers_gone;

  const auto maybe_send = [&] {
    if (sent || !reader.head_in() || !stalled.head_in()) return;
    sent = true;
    for (std::uint64_t at = 0; at < kTotal; at += kChunk) source.send(pattern(at, kChunk));
  };
  source.on_received = [&](Client& self) {
    if (viewers_started || !self.head_in()) return;
    viewers_started = true;
    reader.open(&fixture.loop, fixture.port);
    reader.send("GET /live HTTP/1.0\r\n\r\n");
    stalled.open(&fixture.loop, fixture.port, 4096);
    stalled.send("GET /live HTTP/1.0\r\n\r\n");
  };
  bool stalling = false;
  stalled.on_received = [&](Client& self) {
    if (stalling || fixture.stopped || !self.head_in()) return;
    stalling = true;
    self.stop_reading();  // from here the kernel's buffers fill and the relay's write waits
    maybe_send();
  };
  reader.on_received = [&](Client& self) {
    maybe_send();
    if (self.body().size() < kTotal) return;
    before_stop = mount_stats(*fixture.relay, "/live");
    fixture.stop();
    // Once the relay's loops have let both viewers go (their sockets closed, the stalled one's
    // write cancelled), the stalled viewer reads what the kernel held, then the relay's close.
    viewers_gone.start(fixture.loop, *fixture.relay, [&] { stalled.start_reading(); });
  };
  source.open(&fixture.loop, fixture.port);
  source.send(source_head("/live"));

  fixture.run_to_end();
  CHECK(source.write_errors == 0);
  CHECK(reader.body().size() == kTotal);
  CHECK(matching_prefix(reader.body()) == kTotal);
  // The stalled viewer was still a listener, not dropped, when the relay stopped ...
  CHECK(before_stop.value("viewers", 0) == 2);
  CHECK(before_stop.value("slow_disconnects", 0) == 0);
  CHECK(viewers_gone.done);
  // ... and its write had not finished: it got less than the whole, every byte of it in order.
  const std::string partial = stalled.body();
  CHECK(partial.size() < kTotal);
  CHECK(matching_prefix(partial) == partial.size());
  CHECK(stalled.eofs + stalled.read_errors == 1);
  CHECK(stalled.close_cbs == 1);
  CHECK(reader.close_cbs == 1);
  CHECK(source.close_cbs == 1);
}
