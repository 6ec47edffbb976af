// The pull's libuv layer: attempts (resolve, connect, request, the answer's head), then the
// socket becomes a source Connection on this loop. What to try next, when, and when to stop
// are PullMachine's decisions; this file only applies them and reports what happened.
#include "ringcast/net/origin_pull.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cassert>
#include <charconv>
#include <optional>

#include "ringcast/net/connection.h"
#include "ringcast/http/http_response.h"
#include "ringcast/radio/icecast.h"
#include "ringcast/net/relay.h"
#include "ringcast/net/source_session.h"
#include "ringcast/net/stream.h"
#include "ringcast/core/version.h"
#include "ringcast/net/worker.h"

namespace ringcast::relay {

namespace {
constexpr std::size_t kMaxAnswerHead = 16 * 1024;
constexpr std::uint32_t kMaxOriginMetaint = 1
                                            << 20;  // Icecast allows far less; a bigger one is junk

}  // namespace

// One try at one origin. Its handles may outlive the pull's interest: `pull` is cleared when
// the pull gives up on it, and the object frees itself once its handles are closed.
struct OriginPull::Attempt {
  OriginPull* pull = nullptr;
  std::size_t origin = 0;
  bool probe = false;
  uv::Resolve resolve;
  uv::Tcp tcp;
  uv::Write write;
  std::string request;
  std::string received;
  ResponseHead head;            // the answer's head, once complete
  std::size_t head_length = 0;  // its bytes in `received`
  std::uint32_t metaint = 0;    // the answer's icy-metaint (0: no ICY blocks)
  char read_buffer[4096];
  bool resolving = false;
  bool tcp_open = false;  // the handle was made: it must close before the free
  bool closing = false;

  Attempt() { tcp.bind<&Attempt::on_alloc, &Attempt::on_read, &Attempt::on_closed>(this); }

  void give_up() {
    pull = nullptr;
    if (tcp_open && !closing) {
      closing = true;
      tcp.close();
    }
    maybe_free();
  }
  void maybe_free() {
    if (pull == nullptr && !resolving && !tcp_open) delete this;
  }

  // The handles' events (uv/tcp.h)
  void on_resolved(std::error_code error, const addrinfo* result) {
    // Still `resolving` during the call, so that giving up there cannot free it under us.
    if (pull != nullptr) pull->on_resolved(*this, error, result);
    resolving = false;
    maybe_free();
  }
  void on_connected(std::error_code error) {
    if (pull != nullptr && error != uv::error(UV_ECANCELED)) pull->on_connected(*this, error);
  }
  void on_alloc(uv_buf_t* out) { *out = uv_buf_init(read_buffer, sizeof(read_buffer)); }
  void on_read(std::error_code error, std::size_t n, const uv_buf_t*) {
    if (pull != nullptr) pull->on_read(*this, error, n);
  }
  void on_written(std::error_code) {}  // a failure shows up as the read's error
  void on_closed() {
    tcp_open = false;
    maybe_free();
  }
};

OriginPull::OriginPull(Worker& worker, Options options)
    : worker_(worker), options_(std::move(options)), machine_(options_.settings) {
  if (options_.remote_path.empty()) options_.remote_path = options_.mount;
}

OriginPull::~OriginPull() {
  drop(attempt_);
  drop(probe_);
  close_feed("relay pull ended");
}

void OriginPull::start(std::uint64_t now_ms) {
  spdlog::info("relay {}: pulling {} from {} origin(s), first {}", options_.mount,
               options_.remote_path, options_.origins.size(), options_.origins.front().text);
  apply(machine_.start(now_ms));
}

void OriginPull::on_sweep(std::uint64_t now_ms) {
  if (finished()) return;
  std::size_t audience = 0;
  std::uint64_t last_bytes_ms = 0;
  if (stream_) audience = stream_->viewer_count() + stream_->hls_sessions.active(now_ms);
  if (feed_ != nullptr && feed_->source() != nullptr)
    last_bytes_ms = feed_->source()->last_data_ms();
  apply(machine_.tick(now_ms, audience, last_bytes_ms));
}

void OriginPull::feed_lost() {
  feed_ = nullptr;
  if (finished()) return;
  spdlog::info("relay {}: the stream from {} was lost; its listeners wait while it reconnects",
               options_.mount, options_.origins[machine_.origin()].text);
  apply(machine_.lost(monotonic_ms()));
}

void OriginPull::stop() {
  apply(machine_.stop());
}

void OriginPull::apply(const PullMachine::Actions& actions) {
  const std::uint64_t now = monotonic_ms();
  std::optional<int> answer;
  for (const PullAction& action : actions) {
    switch (action.kind) {
      case PullAction::Kind::connect:
        drop(attempt_);
        open_attempt(action.origin, false);
        break;
      case PullAction::Kind::probe:
        drop(probe_);
        open_attempt(action.origin, true);
        break;
      case PullAction::Kind::drop_probe:
        drop(probe_);
        break;
      case PullAction::Kind::adopt_probe: {
        // The preferred origin is back. Its feed replaces the current one as a source change:
        // the old feed detaches first, so no byte of it follows the new one.
        Attempt* probe = std::exchange(probe_, nullptr);
        close_feed("a preferred origin serves again");
        spdlog::info("relay {}: moving back to {}", options_.mount,
                     options_.origins[action.origin].text);
        take_feed(*probe);
        break;
      }
      case PullAction::Kind::close_feed:
        spdlog::warn("relay {}: {} sent nothing for {} ms: reconnecting", options_.mount,
                     options_.origins[action.origin].text, options_.settings.stall_timeout_ms);
        close_feed("origin stalled");
        break;
      case PullAction::Kind::answer:
        answer = action.status;  // posted last, once the directory says what it means
        break;
      case PullAction::Kind::stop:
        drop(attempt_);
        drop(probe_);
        close_feed("relay pull stopped");
        spdlog::info("relay {}: pull stopped{}", options_.mount,
                     action.status == 404 ? ": no origin has the mount" : "");
        // Out of the directory: a request from now on starts a new pull (or hears 404 cached).
        worker_.relay().edge().ended(options_.mount, action.status, now);
        if (answer) answer_waiters(*answer);
        return;
    }
  }
  publish_state(now);
  // After the directory's update: a loop that hears this answer and then takes a new request
  // for the mount finds it streaming (or gone), never still connecting with nobody to answer.
  if (answer) answer_waiters(*answer);
}

void OriginPull::open_attempt(std::size_t origin, bool probe) {
  const OriginUrl& url = options_.origins[origin];
  auto* attempt = new Attempt;
  attempt->pull = this;
  attempt->origin = origin;
  attempt->probe = probe;
  attempt->request = "GET " + url.target_for(options_.remote_path) + " HTTP/1.0\r\n" +
                     "Host: " + url.host_header() + "\r\n" + "User-Agent: ringcast/" +
                     std::string(kVersion) + " (relay)\r\n" +
                     "Accept: */*\r\n"
                     "Icy-MetaData: 1\r\n" +
                     std::string(kRelayChainHeader) + ": " + options_.chain + "\r\n";
  if (const std::string authorization = url.authorization(); !authorization.empty()) {
    attempt->request += "Authorization: " + authorization + "\r\n";  // an Icecast relay user
  }
  attempt->request += "\r\n";
  (probe ? probe_ : attempt_) = attempt;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  attempt->resolving = true;
  const std::string port = std::to_string(url.port);
  if (const std::error_code error = attempt->resolve.start<&Attempt::on_resolved>(
          worker_.loop(), attempt, url.host.c_str(), port.c_str(), &hints)) {
    attempt->resolving = false;
    attempt_failed(*attempt, 0, "cannot resolve: " + error.message());
  }
}

void OriginPull::drop(Attempt*& attempt) {
  if (attempt == nullptr) return;
  std::exchange(attempt, nullptr)->give_up();
}

void OriginPull::on_resolved(Attempt& attempt, std::error_code error, const addrinfo* result) {
  if (error || result == nullptr) {
    attempt_failed(attempt, 0, "cannot resolve: " + (error ? error.message() : std::string("no address")));
    return;
  }
  error = attempt.tcp.init(worker_.loop());
  if (!error) {
    attempt.tcp_open = true;
    error = attempt.tcp.connect<&Attempt::on_connected, Attempt>(result->ai_addr);
  }
  if (error) attempt_failed(attempt, 0, "cannot connect: " + error.message());
}

void OriginPull::on_connected(Attempt& attempt, std::error_code error) {
  if (error) {
    attempt_failed(attempt, 0, "cannot connect: " + error.message());
    return;
  }
  attempt.tcp.set_nodelay();
  // The request lives in the attempt, which outlives the write (a close cancels it first).
  const uv_buf_t buffer =
      uv_buf_init(attempt.request.data(), static_cast<unsigned>(attempt.request.size()));
  error = attempt.write.start<&Attempt::on_written>(attempt.tcp, &buffer, 1, &attempt);
  if (!error) error = attempt.tcp.read_start();
  if (error) attempt_failed(attempt, 0, error.message());
}

void OriginPull::on_read(Attempt& attempt, std::error_code error, std::size_t n) {
  if (error) {
    attempt_failed(attempt, 0, error == uv::error(UV_EOF) ? "closed before its answer" : error.message());
    return;
  }
  if (n == 0) return;
  attempt.received.append(attempt.read_buffer, n);
  ResponseHead& head = attempt.head;
  const ResponseParse parse = parse_response_head(attempt.received, head, kMaxAnswerHead);
  switch (parse.status) {
    case ResponseParseStatus::incomplete:
      return;
    case ResponseParseStatus::malformed:
      attempt_failed(attempt, 0, std::string("malformed answer: ") + std::string(parse.error));
      return;
    case ResponseParseStatus::complete:
      break;
  }
  if (head.status != 200) {
    attempt_failed(attempt, static_cast<int>(head.status),
                   "answered " + std::to_string(head.status) + " " + head.reason);
    return;
  }
  if (const auto coding = head.header("Transfer-Encoding")) {
    // Icecast and ringcast answer listeners unchunked; anything else would need decoding twice.
    attempt_failed(attempt, 0,
                   "Transfer-Encoding " + std::string(*coding) + " is not taken from an origin");
    return;
  }
  if (const auto value = head.header("icy-metaint")) {
    const auto [end, ec] =
        std::from_chars(value->data(), value->data() + value->size(), attempt.metaint);
    if (ec != std::errc{} || end != value->data() + value->size() || attempt.metaint == 0 ||
        attempt.metaint > kMaxOriginMetaint) {
      attempt_failed(attempt, 0, "icy-metaint " + std::string(*value) + " is out of range");
      return;
    }
  }
  attempt.head_length = parse.head_length;
  if (attempt.probe) {
    // The preferred origin answers: the machine decides whether it takes over (it does while
    // the pull still streams); adopt_probe then calls take_feed.
    attempt.tcp.read_stop();
    Attempt* const probe = &attempt;
    apply(machine_.probe_answered(attempt.origin, 200, monotonic_ms()));
    if (probe_ == probe) drop(probe_);  // not taken: the pull no longer streams
    return;
  }
  take_feed(attempt);
}

void OriginPull::attempt_failed(Attempt& attempt, int status, std::string_view why) {
  const std::size_t origin = attempt.origin;
  const bool probe = attempt.probe;
  spdlog::warn("relay {}: origin {}{}: {}", options_.mount, options_.origins[origin].text,
               probe ? " (the preferred one, tried again)" : "", why);
  drop(probe ? probe_ : attempt_);
  const std::uint64_t now = monotonic_ms();
  apply(probe ? machine_.probe_answered(origin, status, now)
              : machine_.answered(origin, status, now));
}

void OriginPull::take_feed(Attempt& attempt) {
  // The attempt ends here whatever happens: it is the pull's no more, and every path below
  // gives it up exactly once.
  if (&attempt == attempt_) attempt_ = nullptr;
  if (&attempt == probe_) probe_ = nullptr;
  const std::size_t head_length = attempt.head_length;
  const ResponseHead& head = attempt.head;
  const std::size_t origin = attempt.origin;
  const bool probe = attempt.probe;
  const std::uint32_t metaint = attempt.metaint;
  const OriginUrl& url = options_.origins[origin];
  // As a broadcaster's head, the origin's answer describes the stream (its icy-metaint is
  // stored with the rest and, like a source's, never shown to listeners: viewer_response).
  const auto policy = worker_.relay().policy();  // keeps `settings` alive through a reload
  const MountSettings* settings = policy->mount(options_.mount);
  StreamMetadata metadata = stream_metadata_from(head.headers, settings);
  metadata.started_unix_ms = unix_ms();
  metadata.source_ip = url.host;
  metadata.user_agent =
      PeerText::from(head.header("Server").value_or("origin"), kMaxUserAgentBytes);
  auto attached = worker_.relay().registry().attach_source(options_.mount, worker_.index(),
                                                           std::move(metadata), settings);
  if (attached.outcome == StreamRegistry::AttachOutcome::in_use ||
      attached.outcome == StreamRegistry::AttachOutcome::too_many_mounts) {
    const bool in_use = attached.outcome == StreamRegistry::AttachOutcome::in_use;
    spdlog::warn("relay {}: {}: the pull stops", options_.mount,
                 in_use ? "a source feeds the mount here" : "too many mounts (--max-mounts)");
    attempt.give_up();
    drop(attempt_);
    drop(probe_);
    // The waiters go on to the local source (200), or hear 503.
    answer_waiters(in_use ? 200 : 503);
    apply(machine_.stop());
    return;
  }
  stream_ = attached.stream;
  // The socket moves to a Connection of this loop: a dup of its descriptor, then the attempt's
  // handle closes (the kernel's socket stays open through the dup).
  const int fd = attempt.tcp.fd();
  const int copy = fd >= 0 ? ::dup(fd) : -1;
  const std::string early_body = attempt.received.substr(head_length);
  attempt.give_up();
  Connection* connection = copy >= 0 ? worker_.adopt_socket(copy) : nullptr;
  if (connection == nullptr) {
    spdlog::warn("relay {}: cannot take over the socket of {}", options_.mount, url.text);
    // A probe was already the feed to the machine: it is lost; an attempt failed.
    apply(probe ? machine_.lost(monotonic_ms()) : machine_.answered(origin, 0, monotonic_ms()));
    return;
  }
  spdlog::info("relay {}: {} from {} ({}{})", options_.mount,
               attached.outcome == StreamRegistry::AttachOutcome::resumed ? "resumed" : "streaming",
               url.text, stream_->metadata().content_type.str(),
               metaint != 0 ? ", ICY titles" : "");
  feed_ = connection;
  auto source = std::make_unique<SourceSession>(*connection, stream_, false, metaint);
  source->set_pull(this);
  connection->become_source(std::move(source), early_body, monotonic_ms());
  // (A probe is the feed already: probe_answered said so before adopt_probe brought it here.)
  if (feed_ != nullptr && !probe) apply(machine_.answered(origin, 200, monotonic_ms()));
}

void OriginPull::close_feed(std::string_view why) {
  Connection* feed = std::exchange(feed_, nullptr);
  if (feed == nullptr) return;
  // The pull closes it: no feed_lost() back from the session.
  if (feed->source() != nullptr) feed->source()->set_pull(nullptr);
  feed->close(why);
}

void OriginPull::answer_waiters(int status) {
  worker_.post_origin_answer(options_.mount, status);
}

void OriginPull::publish_state(std::uint64_t now_ms) {
  EdgeDirectory::PullState state = EdgeDirectory::PullState::connecting;
  switch (machine_.phase()) {
    case PullMachine::Phase::streaming:
      state = EdgeDirectory::PullState::streaming;
      break;
    case PullMachine::Phase::backing_off:
      state = EdgeDirectory::PullState::retrying;
      break;
    default:
      state = machine_.connects() > 0 ? EdgeDirectory::PullState::retrying
                                      : EdgeDirectory::PullState::connecting;
  }
  worker_.relay().edge().update(options_.mount, state, options_.origins[machine_.origin()].text,
                                now_ms,
                                {machine_.connects(), machine_.failures(), machine_.failovers()});
}

}  // namespace ringcast::relay
