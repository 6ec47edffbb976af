// Title updates: rounds of /admin/metadata updinfo requests, a few connections at a time.
#include "title_updater.h"

#include <algorithm>
#include <iostream>

#include "basic_auth.h"
#include "clock.h"

namespace ringcast::bench {
namespace {

constexpr std::size_t kStatusLineBytes = 12;  // "HTTP/1.x NNN"

}  // namespace

struct TitleUpdater::Request {
  enum class State : std::uint8_t { kFree, kConnecting, kAwaiting, kClosing };

  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  TitleUpdater* owner = nullptr;
  std::string text;
  std::array<char, kStatusLineBytes> status{};
  std::uint8_t status_size = 0;
  std::uint64_t started_ns = 0;
  std::uint32_t mount = 0;
  State state = State::kFree;
};

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

TitleUpdater::TitleUpdater(uv_loop_t* loop, const Options& options, const sockaddr_storage& relay)
    : loop_(loop),
      options_(options),
      relay_(relay),
      authorization_(basic_authorization("source", options.password)),
      slots_(std::min(options.mounts, kMaxInFlight)),
      every_ns_(static_cast<std::uint64_t>(options.title_every_seconds * 1e9)) {
  requests_.reset(new Request[slots_]);
  for (std::uint32_t i = 0; i < slots_; ++i) requests_[i].owner = this;
}

TitleUpdater::~TitleUpdater() = default;

void TitleUpdater::schedule(std::uint64_t from_ns, std::uint64_t until_ns) {
  next_round_ns_ = from_ns;
  until_ns_ = until_ns;
  scheduled_ = true;
}

void TitleUpdater::pump(std::uint64_t now_ns) {
  if (!scheduled_ || closing_) return;
  if (!round_active_ && now_ns >= next_round_ns_ && next_round_ns_ < until_ns_) {
    round_active_ = true;
    round_failed_ = false;
    ++title_;
    next_mount_ = 0;
    awaited_ = options_.mounts;
    // The next round keeps to the grid; one that is late starts once this one is in.
    while (next_round_ns_ <= now_ns) next_round_ns_ += every_ns_;
  }
  for (std::uint32_t i = 0; i < slots_; ++i) {
    Request& request = requests_[i];
    if (request.state == Request::State::kFree && round_active_ && next_mount_ < options_.mounts) {
      start(request, next_mount_++, now_ns);
    } else if ((request.state == Request::State::kConnecting ||
                request.state == Request::State::kAwaiting) &&
               now_ns - request.started_ns > kAnswerTimeoutNs) {
      finish(request, "no answer within 5 s");
    }
  }
}

void TitleUpdater::start(Request& request, std::uint32_t mount, std::uint64_t now_ns) {
  request.mount = mount;
  request.started_ns = now_ns;
  request.status_size = 0;
  request.text = "GET /admin/metadata?mount=" + percent_encode(options_.mount_path(mount)) +
                 "&mode=updinfo&song=" + percent_encode("bench title " + std::to_string(title_)) +
                 " HTTP/1.0\r\nHost: " + options_.host + "\r\nAuthorization: " + authorization_ +
                 "\r\nUser-Agent: ringcast-bench\r\nConnection: close\r\n\r\n";
  uv_tcp_init(loop_, &request.tcp);
  request.tcp.data = &request;
  request.connect.data = &request;
  request.write.data = &request;
  request.state = Request::State::kConnecting;
  const int rc = uv_tcp_connect(&request.connect, &request.tcp,
                                reinterpret_cast<const sockaddr*>(&relay_), connect_cb);
  if (rc < 0) finish(request, std::string("connect: ") + uv_strerror(rc));
}

void TitleUpdater::on_connect(Request& request, int status) {
  if (request.state != Request::State::kConnecting) return;  // given up on meanwhile
  if (status < 0) return finish(request, std::string("connect: ") + uv_strerror(status));
  request.state = Request::State::kAwaiting;
  auto* stream = reinterpret_cast<uv_stream_t*>(&request.tcp);
  uv_buf_t buf = uv_buf_init(request.text.data(), static_cast<unsigned>(request.text.size()));
  uv_write(&request.write, stream, &buf, 1, write_cb);
  uv_read_start(stream, alloc_cb, read_cb);
}

void TitleUpdater::on_read(Request& request, ssize_t nread, const uv_buf_t* buf) {
  if (request.state != Request::State::kAwaiting) return;
  if (nread < 0) return finish(request, "closed before answering");
  const auto size = static_cast<std::size_t>(nread);
  for (std::size_t i = 0; i < size && request.status_size < kStatusLineBytes; ++i) {
    request.status[request.status_size++] = buf->base[i];
  }
  if (request.status_size < kStatusLineBytes) return;
  const std::string_view line(request.status.data(), kStatusLineBytes);
  if (line.substr(0, 7) == "HTTP/1." && line.substr(8) == " 200") return finish(request, "");
  finish(request, "answered \"" + std::string(line) + "\"");
}

void TitleUpdater::finish(Request& request, const std::string& error) {
  if (error.empty()) {
    ++updates_;
  } else {
    ++failures_;
    round_failed_ = true;
    if (first_error_.empty()) {
      first_error_ = options_.mount_path(request.mount) + ": " + error;
      std::cerr << "ringcast-bench: title update: " << first_error_ << "\n";
    }
  }
  request.state = Request::State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&request.tcp), close_cb);
  if (--awaited_ > 0) return;
  round_active_ = false;
  if (!round_failed_) made_.emplace_back(title_, monotonic_ns());
}

void TitleUpdater::on_closed(Request& request) {
  request.state = Request::State::kFree;
}

void TitleUpdater::close() {
  closing_ = true;
  for (std::uint32_t i = 0; i < slots_; ++i) {
    Request& request = requests_[i];
    if (request.state == Request::State::kConnecting ||
        request.state == Request::State::kAwaiting) {
      request.state = Request::State::kClosing;
      uv_close(reinterpret_cast<uv_handle_t*>(&request.tcp), close_cb);
    }
  }
}

// libuv callbacks

void TitleUpdater::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  TitleUpdater* self = static_cast<Request*>(handle->data)->owner;
  *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(self->read_buffer_.size()));
}

void TitleUpdater::connect_cb(uv_connect_t* connect, int status) {
  auto* request = static_cast<Request*>(connect->data);
  request->owner->on_connect(*request, status);
}

void TitleUpdater::write_cb(uv_write_t*, int) {}  // a failed write shows up as a read error

void TitleUpdater::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* request = static_cast<Request*>(stream->data);
  if (nread != 0) request->owner->on_read(*request, nread, buf);
}

void TitleUpdater::close_cb(uv_handle_t* handle) {
  auto* request = static_cast<Request*>(handle->data);
  request->owner->on_closed(*request);
}

}  // namespace ringcast::bench
