// Icecast compatibility against the real binary: ICY metadata to listeners and its updates
// through /admin/metadata, /status-json.xsl, CORS preflight, HEAD and Safari's range probe.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "harness.h"

using namespace ringcast::integration;

namespace {

std::string percent_encode(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 15];
    }
  }
  return out;
}

Response update_title(std::uint16_t port, std::string_view mount, std::string_view song,
                      std::string_view password = kPassword) {
  return http_exchange(port, "GET /admin/metadata?mount=" + percent_encode(mount) +
                                 "&mode=updinfo&song=" + percent_encode(song) +
                                 " HTTP/1.0\r\nAuthorization: " + basic_auth("source", password) +
                                 "\r\nUser-Agent: libshout/2.4.6\r\n\r\n");
}

// A listener's side of ICY: splits what it reads into stream bytes (checked packet by packet)
// and metadata blocks.
struct IcyReader {
  explicit IcyReader(std::size_t metaint) : metaint(metaint), until_block(metaint) {}

  void feed(std::span<const std::uint8_t> bytes) {
    while (!bytes.empty()) {
      if (block_left > 0) {
        const std::size_t n = std::min(block_left, bytes.size());
        block.append(reinterpret_cast<const char*>(bytes.data()), n);
        block_left -= n;
        bytes = bytes.subspan(n);
        if (block_left == 0) end_block();
      } else if (until_block == 0) {
        block_left = std::size_t{bytes[0]} * 16;
        bytes = bytes.subspan(1);
        ++blocks;
        if (block_left == 0) {
          ++empty_blocks;
          until_block = metaint;
        }
      } else {
        const std::size_t n = std::min(until_block, bytes.size());
        checker.feed(bytes.first(n));
        stream_bytes += n;
        until_block -= n;
        bytes = bytes.subspan(n);
      }
    }
  }
  void end_block() {
    const std::size_t end = block.find('\0');
    titles.push_back(block.substr(0, end));
    padded_ok = padded_ok && block.find_first_not_of('\0', end) == std::string::npos;
    block.clear();
    until_block = metaint;
  }

  std::size_t metaint;
  std::size_t until_block;
  std::size_t block_left = 0;
  std::string block;
  std::vector<std::string> titles;  // every block that was not empty, as sent
  std::size_t blocks = 0;
  std::size_t empty_blocks = 0;
  std::uint64_t stream_bytes = 0;
  bool padded_ok = true;
  PacketChecker checker{true};
};

Socket icy_listener(std::uint16_t port, const std::string& mount, ResponseHead& head) {
  Socket socket = connect_loopback(port);
  send_all(socket, "GET " + mount + " HTTP/1.1\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n", Clock::now() + 5s);
  head = read_response_head(socket, Clock::now() + 5s);
  return socket;
}

// Reads into the reader until `done` holds (or the deadline: false).
bool read_until(const Socket& socket, IcyReader& reader, const std::function<bool()>& done,
                std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::uint8_t> buffer(64 * 1024);
  while (!done()) {
    const auto n = read_some(socket, buffer.data(), buffer.size(), deadline);
    if (!n || *n == 0) return false;
    reader.feed(std::span(buffer.data(), *n));
  }
  return true;
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

}  // namespace

TEST_CASE("an ICY listener gets icy-metaint, the stream byte-exact between blocks, and each title once",
          "[icecast]") {
  RelayProcess relay({"--icy-metaint", "2000"});
  SourceOptions options;
  options.extra_headers = {"Icy-MetaData: 1", "Ice-Name: Test FM"};
  SourceConnection source = connect_source(relay.port(), options);
  std::uint64_t sent = 0;
  const auto send_packets = [&](std::size_t packets) {
    send_all(source.socket, pattern(sent, packets * kPacketBytes), Clock::now() + 5s);
    sent += packets * kPacketBytes;
  };
  send_packets(100);
  const std::string first_title = "Ärtist – It's \"quoted\" ünïcode";
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").value("bytes_in", std::uint64_t{0}) == sent; }, 5s));
  const Response answer = update_title(relay.port(), "/live.ts", first_title);
  REQUIRE(answer.head.status == 200);
  CHECK(answer.body.find("<return>1</return>") != std::string::npos);
  CHECK(answer.head.header("Content-Type").value_or("").find("xml") != std::string::npos);

  ResponseHead head;
  Socket listener = icy_listener(relay.port(), "/live.ts", head);
  REQUIRE(head.status == 200);
  CHECK(head.header("icy-metaint") == "2000");
  CHECK(head.header("icy-name") == "Test FM");
  CHECK(head.text.find("icy-metadata") == std::string::npos);  // the source's header stays its own
  Viewer plain(relay.port(), "/live.ts");

  IcyReader reader(2000);
  reader.feed(head.leftover);
  send_packets(200);
  REQUIRE(read_until(listener, reader, [&] { return !reader.titles.empty() && reader.blocks >= 5; }));
  CHECK(reader.titles.front() == "StreamTitle='" + first_title + "';");
  const std::string second_title = "Next Song";
  REQUIRE(update_title(relay.port(), "/live.ts", second_title).head.status == 200);
  send_packets(200);
  REQUIRE(read_until(listener, reader, [&] { return reader.titles.size() >= 2 && reader.blocks >= 15; }));
  CHECK(reader.titles.size() == 2);  // each title once; blocks in between are one zero byte
  CHECK(reader.titles.back() == "StreamTitle='Next Song';");
  CHECK(reader.empty_blocks == reader.blocks - 2);
  CHECK(reader.padded_ok);
  CHECK(reader.checker.ok());
  INFO(reader.checker.error());
  CHECK(reader.checker.jumps() == 0);

  // The listener who did not ask gets exactly the stream.
  REQUIRE(wait_until([&] { return plain.received() >= 400 * kPacketBytes; }, 10s));
  plain.hang_up();
  CHECK(!plain.response().header("icy-metaint"));
  CHECK(plain.checker().ok());

  const nlohmann::json stats = mount_stats(relay.port(), "/live.ts");
  CHECK(stats.value("title", "") == second_title);
  CHECK(fetch_stats(relay.port()).at("totals").at("metadata_updates") == 2);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("metadata updates need the mount's source credentials or the admin's, and outlive a source reconnect", "[icecast]") {
  RelayProcess relay({"--admin-password", "adm1n"});
  SourceConnection source = connect_source(relay.port());
  CHECK(update_title(relay.port(), "/live.ts", "x", "wrong").head.status == 401);
  CHECK(update_title(relay.port(), "/nothing.ts", "x").head.status == 400);
  const Response as_admin = http_exchange(
      relay.port(), "GET /admin/metadata?mount=/live.ts&mode=updinfo&artist=A&title=B HTTP/1.0\r\n"
                    "Authorization: " + basic_auth("admin", "adm1n") + "\r\n\r\n");
  CHECK(as_admin.head.status == 200);
  CHECK(mount_stats(relay.port(), "/live.ts").value("title", "") == "A - B");
  // The title stays with the mount when its source drops and comes back within grace.
  source.socket.close();
  REQUIRE(wait_until([&] { return !mount_stats(relay.port(), "/live.ts").value("source_connected", true); }, 5s));
  SourceConnection again = connect_source(relay.port());
  send_all(again.socket, pattern(0, 200 * kPacketBytes), Clock::now() + 5s);
  CHECK(mount_stats(relay.port(), "/live.ts").value("title", "") == "A - B");
  ResponseHead head;
  Socket listener = icy_listener(relay.port(), "/live.ts", head);
  REQUIRE(head.header("icy-metaint") == "16000");
  IcyReader reader(16000);
  reader.feed(head.leftover);
  send_all(again.socket, pattern(200 * kPacketBytes, 200 * kPacketBytes), Clock::now() + 5s);
  REQUIRE(read_until(listener, reader, [&] { return !reader.titles.empty(); }));
  CHECK(reader.titles.front() == "StreamTitle='A - B';");
  const Response no_mode = http_exchange(
      relay.port(), "GET /admin/metadata?mount=/live.ts&song=x HTTP/1.0\r\nAuthorization: " +
                        basic_auth("source", kPassword) + "\r\n\r\n");
  CHECK(no_mode.head.status == 400);
  CHECK(no_mode.body.find("<return>0</return>") != std::string::npos);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("HEAD of a mount answers GET's head, icy headers included, without a body", "[icecast]") {
  RelayProcess relay;
  SourceOptions options;
  options.content_type = "audio/mpeg";
  options.extra_headers = {"Ice-Name: Test FM", "Ice-Bitrate: 128"};
  SourceConnection source = connect_source(relay.port(), options);
  const Response head = http_exchange(relay.port(), "HEAD /live.ts HTTP/1.1\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n");
  CHECK(head.head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.head.header("Content-Type") == "audio/mpeg");
  CHECK(head.head.header("icy-name") == "Test FM");
  CHECK(head.head.header("icy-br") == "128");
  CHECK(head.head.header("icy-metaint") == "16000");
  CHECK(!head.head.header("Content-Length"));  // as GET: a stream has none
  CHECK(head.head.header("Access-Control-Expose-Headers").value_or("").find("icy-metaint") != std::string::npos);
  CHECK(mount_stats(relay.port(), "/live.ts").value("joins", 1) == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a CORS preflight is answered for any path", "[icecast]") {
  RelayProcess relay;
  for (const char* path : {"/live.ts", "/status-json.xsl", "/admin/metadata"}) {
    INFO(path);
    const Response response = http_exchange(
        relay.port(), std::string("OPTIONS ") + path +
                          " HTTP/1.1\r\nHost: x\r\nOrigin: http://example.test\r\n"
                          "Access-Control-Request-Method: GET\r\n\r\n");
    CHECK(response.head.status == 204);
    CHECK(response.head.header("Access-Control-Allow-Origin") == "*");
    CHECK(response.head.header("Access-Control-Allow-Methods").value_or("").find("GET") != std::string::npos);
    CHECK(response.head.header("Access-Control-Allow-Headers").value_or("").find("Icy-MetaData") != std::string::npos);
  }
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("Safari's two-byte range probe gets 206 and is not counted as a listener", "[icecast]") {
  RelayProcess relay;
  SourceConnection source = connect_source(relay.port());
  send_all(source.socket, pattern(0, 20 * kPacketBytes), Clock::now() + 5s);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").value("bytes_in", std::uint64_t{0}) > 0; }, 5s));
  const Response probe = http_exchange(relay.port(), "GET /live.ts HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
  CHECK(probe.head.status == 206);
  CHECK(probe.head.header("Content-Range") == "bytes 0-1/*");
  REQUIRE(probe.body.size() == 2);
  CHECK(static_cast<std::uint8_t>(probe.body[0]) == 0x47);  // the stream's own first bytes
  CHECK(mount_stats(relay.port(), "/live.ts").value("joins", 1) == 0);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("/status-json.xsl lists live mounts in Icecast's schema: an object for one, a list for several",
          "[icecast]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-status-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "ringcast.toml";
  std::ofstream(config) << "[mounts.\"/hidden.mp3\"]\nhidden = true\n";
  RelayProcess relay({"--config", config.string()});

  const auto status = [&] {
    const Response response = http_exchange(relay.port(), "GET /status-json.xsl HTTP/1.1\r\nHost: radio.test:8000\r\n\r\n");
    REQUIRE(response.head.status == 200);
    CHECK(response.head.header("Access-Control-Allow-Origin") == "*");
    return nlohmann::json::parse(response.body);
  };
  CHECK(!status().at("icestats").contains("source"));

  SourceOptions one;
  one.mount = "/radio.mp3";
  one.content_type = "audio/mpeg";
  one.extra_headers = {"Ice-Name: Radio One", "Ice-Genre: Jazz", "Ice-Bitrate: 128",
                       "Ice-Description: all night"};
  SourceConnection first = connect_source(relay.port(), one);
  REQUIRE(update_title(relay.port(), "/radio.mp3", "Miles - So What").head.status == 200);
  Viewer listener(relay.port(), "/radio.mp3", Viewer::Options{.contiguous = false});
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/radio.mp3").value("viewers", 0) == 1; }, 5s));

  const nlohmann::json single = status().at("icestats");
  CHECK(single.at("host") == "radio.test");
  CHECK(single.contains("server_start_iso8601"));
  const nlohmann::json& source = single.at("source");
  REQUIRE(source.is_object());
  CHECK(source.at("listenurl") == "http://radio.test:8000/radio.mp3");
  CHECK(source.at("listeners") == 1);
  CHECK(source.at("server_name") == "Radio One");
  CHECK(source.at("genre") == "Jazz");
  CHECK(source.at("bitrate") == 128);
  CHECK(source.at("title") == "Miles - So What");
  CHECK(source.at("server_type") == "audio/mpeg");

  SourceOptions two = one;
  two.mount = "/second.mp3";
  SourceConnection second = connect_source(relay.port(), two);
  SourceOptions hidden = one;
  hidden.mount = "/hidden.mp3";
  SourceConnection third = connect_source(relay.port(), hidden);
  const nlohmann::json several = status().at("icestats").at("source");
  REQUIRE(several.is_array());
  CHECK(several.size() == 2);  // the hidden mount is not listed
  listener.hang_up();
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("1,000 ICY listeners share each title's block: memory does not grow per listener per title",
          "[icecast]") {
  constexpr int kListeners = 1000;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;  // this process holds the listeners' ends
  ::setrlimit(RLIMIT_NOFILE, &files);
  REQUIRE(files.rlim_cur > kListeners + 100);
  RelayProcess relay({"--icy-metaint", "256"});
  SourceConnection source = connect_source(relay.port());
  std::vector<Socket> listeners;
  for (int i = 0; i < kListeners; ++i) {
    listeners.push_back(connect_loopback(relay.port()));
    send_all(listeners.back(), "GET /live.ts HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", Clock::now() + 5s);
    ::fcntl(listeners.back().fd(), F_SETFL, O_NONBLOCK);
  }
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").value("viewers", 0) == kListeners; }, 20s));
  std::vector<std::uint8_t> sink(256 * 1024);
  std::uint64_t received = 0;
  const auto drain = [&] {
    for (const Socket& listener : listeners) {
      ssize_t n;
      while ((n = ::recv(listener.fd(), sink.data(), sink.size(), 0)) > 0) received += n;
    }
  };
  // A long title: were a block copied per listener, each change would cost 1,000 x 4 KiB.
  const auto round = [&](int k) {
    REQUIRE(update_title(relay.port(), "/live.ts", std::string(4000, 'a' + k % 26)).head.status == 200);
    send_all(source.socket, pattern(0, 20 * kPacketBytes), Clock::now() + 5s);
    const std::uint64_t before = received;
    wait_until([&] { drain(); return received >= before + kListeners * 20 * kPacketBytes; }, 10s);
  };
  for (int k = 0; k < 3; ++k) round(k);
  const std::uint64_t warm = rss_kib(relay.pid());
  for (int k = 3; k < 23; ++k) round(k);
  const std::uint64_t after = rss_kib(relay.pid());
  INFO("RSS " << warm << " KiB after 3 titles, " << after << " KiB after 23");
  CHECK(after < warm + 20 * kListeners * 4 / 8);  // far below one copy per listener per title (80 MB)
  CHECK(mount_stats(relay.port(), "/live.ts").value("viewers", 0) == kListeners);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a chunked PUT reaches viewers de-chunked and byte-exact, whatever its chunk sizes",
          "[icecast][chunked]") {
  RelayProcess relay;
  const auto seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 random(seed);
  SourceOptions options;
  options.extra_headers = {"Transfer-Encoding: chunked"};
  SourceConnection source = connect_source(relay.port(), options);
  Viewer viewer(relay.port(), "/live.ts");
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").value("viewers", 0) == 1; }, 5s));
  constexpr std::uint64_t kTotal = 3000 * kPacketBytes;
  std::uniform_int_distribution<std::size_t> size(1, 9000);
  std::uint64_t sent = 0;
  while (sent < kTotal) {
    const std::size_t n = std::min<std::uint64_t>(size(random), kTotal - sent);
    char line[32];
    std::snprintf(line, sizeof(line), "%zx%s\r\n", n, n % 3 == 0 ? ";ext=1" : "");
    std::string chunk = line;
    const auto body = pattern(sent, n);
    chunk.append(reinterpret_cast<const char*>(body.data()), body.size());
    chunk += "\r\n";
    send_all(source.socket, chunk, Clock::now() + 5s);
    sent += n;
  }
  send_all(source.socket, "0\r\n\r\n", Clock::now() + 5s);
  REQUIRE(wait_until([&] { return viewer.received() >= kTotal; }, 20s));
  viewer.hang_up();
  CHECK(viewer.received() == kTotal);
  CHECK(viewer.checker().ok());
  INFO(viewer.checker().error());
  CHECK(mount_stats(relay.port(), "/live.ts").value("bytes_in", std::uint64_t{0}) == kTotal);
  REQUIRE(relay.stop() == 0);
}

TEST_CASE("a chunked PUT with broken framing is dropped before the garbage reaches viewers",
          "[icecast][chunked]") {
  RelayProcess relay;
  SourceOptions options;
  options.extra_headers = {"Transfer-Encoding: chunked"};
  SourceConnection source = connect_source(relay.port(), options);
  Viewer viewer(relay.port(), "/live.ts");
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/live.ts").value("viewers", 0) == 1; }, 5s));
  const auto body = pattern(0, 10 * kPacketBytes);
  std::string text = "758\r\n";  // 1880
  text.append(reinterpret_cast<const char*>(body.data()), body.size());
  text += "\r\nzz-not-hex\r\n";
  send_all(source.socket, text, Clock::now() + 5s);
  REQUIRE(wait_until([&] { return !mount_stats(relay.port(), "/live.ts").value("source_connected", true); }, 5s));
  // The log line is written before the close that /stats shows, but read from the relay's
  // stderr by another thread: wait for it rather than race it.
  CHECK(wait_until([&] { return relay.log().find("malformed chunked body") != std::string::npos; }, 5s));
  CHECK(mount_stats(relay.port(), "/live.ts").value("bytes_in", std::uint64_t{0}) == 10 * kPacketBytes);
  REQUIRE(wait_until([&] { return viewer.received() == 10 * kPacketBytes; }, 5s));
  viewer.hang_up();
  CHECK(viewer.checker().ok());
  CHECK(http_exchange(relay.port(), source_request_head([] {
                        SourceOptions gzip;
                        gzip.mount = "/other.ts";
                        gzip.expect_continue = false;
                        gzip.extra_headers = {"Transfer-Encoding: gzip"};
                        return gzip;
                      }()))
            .head.status == 501);
  REQUIRE(relay.stop() == 0);
}

namespace {

// The packet numbers a viewer heard, in order (the payload numbers every packet).
std::vector<std::uint64_t> packet_sequence(const std::vector<std::uint8_t>& stream) {
  std::vector<std::uint64_t> sequence;
  for (std::size_t at = 0; at + kPacketBytes <= stream.size(); at += kPacketBytes) {
    REQUIRE(stream[at] == 0x47);
    std::uint64_t k = 0;
    for (int i = 7; i >= 0; --i) k = k << 8 | stream[at + 1 + i];
    sequence.push_back(k);
  }
  return sequence;
}

// A source that keeps sending the pattern from `first_packet` on in small steps until stopped.
struct FeedingSource {
  FeedingSource(std::uint16_t port, const std::string& mount, std::uint64_t first_packet)
      : connection(connect_source(port, [&] {
          SourceOptions options;
          options.mount = mount;
          return options;
        }())),
        next(first_packet * kPacketBytes),
        thread([this] {
          while (!stop.load()) {
            try {
              send_all(connection.socket, pattern(next, 20 * kPacketBytes), Clock::now() + 5s);
            } catch (const std::exception&) {
              return;
            }
            next += 20 * kPacketBytes;
            std::this_thread::sleep_for(5ms);  // pacing, not synchronisation
          }
        }) {}
  ~FeedingSource() { leave(); }
  void leave() {
    stop.store(true);
    if (thread.joinable()) thread.join();
    connection.socket.close();
  }

  SourceConnection connection;
  std::uint64_t next;
  std::atomic<bool> stop{false};
  std::thread thread;
};

constexpr std::uint64_t kBackupFirst = 1'000'000;  // packet numbers of the fallback's stream
constexpr std::uint64_t kReturnFirst = 2'000'000;  // and of the source that comes back

}  // namespace

TEST_CASE("listeners move to the fallback when the source leaves and back when it returns, unbroken",
          "[icecast][fallback]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ringcast-fallback-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "ringcast.toml";
  std::ofstream(config) << "[mounts.\"/live.ts\"]\nfallback_mount = \"/backup.ts\"\nfallback_override = true\n";
  RelayProcess relay({"--config", config.string(), "--workers", "2", "--grace", "30"});
  FeedingSource backup(relay.port(), "/backup.ts", kBackupFirst);
  auto live = std::make_unique<FeedingSource>(relay.port(), "/live.ts", 0);
  const auto viewers_of = [&](const std::string& mount) {
    return mount_stats(relay.port(), mount).value("viewers", std::uint64_t{0});
  };

  Viewer::Options options;
  options.contiguous = false;
  options.keep_stream = true;
  std::vector<std::unique_ptr<Viewer>> listeners;
  for (int i = 0; i < 4; ++i) listeners.push_back(std::make_unique<Viewer>(relay.port(), "/live.ts", options));
  REQUIRE(wait_until([&] { return viewers_of("/live.ts") == 4; }, 5s));
  REQUIRE(wait_until([&] { return listeners[0]->received() > 100 * kPacketBytes; }, 5s));

  live->leave();  // the DJ drops
  REQUIRE(wait_until([&] { return viewers_of("/backup.ts") == 4; }, 5s));
  CHECK(viewers_of("/live.ts") == 0);
  // A listener who asks for the mount while its source is away hears the fallback too.
  auto late = std::make_unique<Viewer>(relay.port(), "/live.ts", options);
  REQUIRE(wait_until([&] { return viewers_of("/backup.ts") == 5; }, 5s));
  const std::uint64_t before = listeners[0]->received();
  REQUIRE(wait_until([&] { return listeners[0]->received() > before + 200 * kPacketBytes; }, 5s));

  live = std::make_unique<FeedingSource>(relay.port(), "/live.ts", kReturnFirst);  // back: override
  REQUIRE(wait_until([&] { return viewers_of("/live.ts") == 5; }, 5s));
  const std::uint64_t back = listeners[0]->received();
  REQUIRE(wait_until([&] { return listeners[0]->received() > back + 200 * kPacketBytes; }, 5s));
  listeners.push_back(std::move(late));

  for (auto& listener : listeners) {
    listener->hang_up();
    INFO(listener->checker().error() << listener->error());
    CHECK(listener->checker().ok());  // whole packets across both switches
    CHECK(!listener->eof());          // nobody was disconnected
    const auto sequence = packet_sequence(listener->stream());
    REQUIRE(!sequence.empty());
    // Heard: the live stream unless it joined late, then the fallback, then the returned
    // source, in that order (packet numbers only go forward: the checker allows no going back).
    std::vector<int> phases;
    for (const std::uint64_t k : sequence) {
      const int phase = k >= kReturnFirst ? 2 : k >= kBackupFirst ? 1 : 0;
      if (phases.empty() || phases.back() != phase) phases.push_back(phase);
    }
    CHECK((phases == std::vector<int>{0, 1, 2} || phases == std::vector<int>{1, 2}));
  }
  CHECK(fetch_stats(relay.port()).at("totals").at("viewers_moved") >= 9);
  live->leave();
  backup.leave();
  REQUIRE(relay.stop() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an admin moves a mount's listeners to another live mount", "[icecast][fallback]") {
  RelayProcess relay({"--admin-password", "adm1n"});
  FeedingSource first(relay.port(), "/one.ts", 0);
  FeedingSource second(relay.port(), "/two.ts", kBackupFirst);
  Viewer::Options options;
  options.contiguous = false;
  Viewer listener(relay.port(), "/one.ts", options);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/one.ts").value("viewers", 0) == 1; }, 5s));
  const auto move = [&](std::string_view query) {
    return http_exchange(relay.port(), "GET /admin/moveclients?" + std::string(query) +
                                           " HTTP/1.0\r\nAuthorization: " + basic_auth("admin", "adm1n") + "\r\n\r\n");
  };
  CHECK(move("mount=/one.ts&destination=/nowhere.ts").head.status == 404);
  CHECK(move("mount=/one.ts").head.status == 400);
  const Response moved = move("mount=/one.ts&destination=/two.ts");
  CHECK(moved.head.status == 200);
  CHECK(moved.body.find("Clients moved from /one.ts to /two.ts") != std::string::npos);
  REQUIRE(wait_until([&] { return mount_stats(relay.port(), "/two.ts").value("viewers", 0) == 1; }, 5s));
  const std::uint64_t at_move = listener.received();
  REQUIRE(wait_until([&] { return listener.received() > at_move + 100 * kPacketBytes; }, 5s));
  listener.hang_up();
  CHECK(listener.checker().ok());
  CHECK(listener.checker().last_sequence() >= kBackupFirst);
  first.leave();
  second.leave();
  REQUIRE(relay.stop() == 0);
}
