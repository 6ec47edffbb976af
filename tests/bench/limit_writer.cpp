// The limit-mode writer: one generated buffer, one uv_try_write per viewer per chunk.
#include "limit_writer.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <cassert>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "clock.h"
#include "payload.h"
#include "writer_ring.h"

namespace ringcast::bench {
namespace {

constexpr std::uint64_t kRingBytes = kWriterRingBytes;
constexpr std::uint64_t kRingMask = kWriterRingMask;
constexpr const char (&kResponseHead)[sizeof kWriterResponseHead] = kWriterResponseHead;

class LimitWriter {
 public:
  LimitWriter(uv_loop_t* loop, const Options& options)
      : loop_(loop), options_(options), ring_(kRingBytes) {}

  int listen(int* port);
  void pump(std::uint64_t now_ns);

 private:
  struct Client {
    uv_tcp_t tcp;
    LimitWriter* owner;
    std::uint64_t position;
    std::size_t slot;  // index in clients_
    // The rest of a record cut by a partial write, kept when the viewer is skipped forward.
    std::array<std::uint8_t, kRecordSize> tail;
    std::size_t tail_offset;
    std::size_t tail_size;
  };

  void on_connection();
  void write_to(Client& client);
  void drop(Client& client);

  // libuv callbacks
  static void connection_cb(uv_stream_t* server, int status);
  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void close_cb(uv_handle_t* handle);

  uv_loop_t* loop_;
  const Options& options_;
  uv_tcp_t server_;
  std::vector<std::uint8_t> ring_;
  std::uint64_t head_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t chunks_generated_ = 0;
  std::uint64_t next_flush_ns_ = 0;
  RecordWriter writer_;
  std::vector<Client*> clients_;
  char discard_[4096];  // viewers' request bytes, ignored
};

int LimitWriter::listen(int* port) {
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  sockaddr_in address;
  uv_ip4_addr("127.0.0.1", 0, &address);
  int rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 4096, connection_cb);
  if (rc < 0) return rc;
  sockaddr_storage bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &length);
  *port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  start_ns_ = monotonic_ns();
  return 0;
}

void LimitWriter::pump(std::uint64_t now_ns) {
  const double due_bytes =
      static_cast<double>(now_ns - start_ns_) * static_cast<double>(options_.rate_bps) / 8e9;
  const auto due_chunks = static_cast<std::uint64_t>(due_bytes / options_.chunk_bytes) + 1;
  if (chunks_generated_ == due_chunks) return;
  for (; chunks_generated_ < due_chunks; ++chunks_generated_) {
    std::uint64_t left = options_.chunk_bytes;
    while (left > 0) {  // at most two spans when the chunk wraps the ring
      const std::uint64_t index = head_ & kRingMask;
      const std::uint64_t span = std::min(left, kRingBytes - index);
      writer_.fill(std::span(ring_).subspan(index, span), now_ns);
      head_ += span;
      left -= span;
    }
  }
  if (now_ns < next_flush_ns_) return;
  next_flush_ns_ = now_ns + static_cast<std::uint64_t>(options_.limit_flush_ms * 1e6);
  for (std::size_t i = clients_.size(); i-- > 0;) write_to(*clients_[i]);
}

void LimitWriter::on_connection() {
  auto* client = new Client{};
  uv_tcp_init(loop_, &client->tcp);
  client->tcp.data = client;
  client->owner = this;
  auto* stream = reinterpret_cast<uv_stream_t*>(&client->tcp);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&server_), stream) < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&client->tcp), close_cb);
    return;
  }
  uv_tcp_nodelay(&client->tcp, 1);  // chunks are small: Nagle would hold them for an ACK
  client->slot = clients_.size();
  clients_.push_back(client);
  uv_read_start(stream, alloc_cb, read_cb);
  uv_buf_t head = uv_buf_init(const_cast<char*>(kResponseHead), sizeof kResponseHead - 1);
  if (uv_try_write(stream, &head, 1) != static_cast<int>(head.len)) return drop(*client);
  const std::uint64_t burst = options_.limit_burst_bytes;
  client->position = record_aligned(head_ > burst ? head_ - burst : 0);
  write_to(*client);
}

void LimitWriter::write_to(Client& client) {
  // A viewer more than half a ring behind is skipped to the burst point, before the generator
  // can overwrite what it has yet to read. The skip lands on a record boundary; a record cut by
  // a partial write is finished from a copy of its tail first, so the gap is at a boundary too.
  if (head_ - client.position > kRingBytes / 2) {
    const std::uint64_t into_record = client.position % kRecordSize;
    // Ring bytes are written only after the tail, so a pending tail implies an aligned position.
    assert(client.tail_size == 0 || into_record == 0);
    if (into_record != 0) {
      client.tail_size = kRecordSize - into_record;
      client.tail_offset = 0;
      for (std::size_t i = 0; i < client.tail_size; ++i) {
        client.tail[i] = ring_[(client.position + i) & kRingMask];
      }
    }
    client.position = record_aligned(head_ - options_.limit_burst_bytes);
  }
  uv_buf_t bufs[3];
  unsigned count = 0;
  const std::size_t tail_left = client.tail_size - client.tail_offset;
  if (tail_left > 0) {
    bufs[count++] = uv_buf_init(reinterpret_cast<char*>(client.tail.data() + client.tail_offset),
                                static_cast<unsigned>(tail_left));
  }
  std::uint64_t position = client.position;
  while (position < head_) {
    const std::uint64_t index = position & kRingMask;
    const std::uint64_t span = std::min(head_ - position, kRingBytes - index);
    bufs[count++] =
        uv_buf_init(reinterpret_cast<char*>(ring_.data() + index), static_cast<unsigned>(span));
    position += span;
  }
  if (count == 0) return;
  const int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&client.tcp), bufs, count);
  if (written == UV_EAGAIN) return;
  if (written < 0) return drop(client);
  auto accepted = static_cast<std::size_t>(written);
  const std::size_t from_tail = std::min(accepted, tail_left);
  client.tail_offset += from_tail;
  if (client.tail_offset == client.tail_size) client.tail_size = client.tail_offset = 0;
  client.position += accepted - from_tail;
}

void LimitWriter::drop(Client& client) {
  Client* last = clients_.back();
  clients_[client.slot] = last;
  last->slot = client.slot;
  clients_.pop_back();
  uv_close(reinterpret_cast<uv_handle_t*>(&client.tcp), close_cb);
}

// libuv callbacks

void LimitWriter::connection_cb(uv_stream_t* server, int status) {
  if (status == 0) static_cast<LimitWriter*>(server->data)->on_connection();
}

void LimitWriter::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  LimitWriter* owner = static_cast<Client*>(handle->data)->owner;
  *buf = uv_buf_init(owner->discard_, sizeof owner->discard_);
}

void LimitWriter::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* client = static_cast<Client*>(stream->data);
  if (nread < 0) client->owner->drop(*client);
}

void LimitWriter::close_cb(uv_handle_t* handle) {
  delete static_cast<Client*>(handle->data);
}

struct WriterProcess {
  LimitWriter* writer;
  uv_timer_t tick;
  uv_signal_t terminate;
};

void tick_cb(uv_timer_t* timer) {
  static_cast<WriterProcess*>(timer->data)->writer->pump(monotonic_ns());
}

void terminate_cb(uv_signal_t* signal, int) {
  uv_stop(signal->loop);
}

}  // namespace

int run_limit_writer(const Options& options, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  LimitWriter writer(&loop, options);
  int port = 0;
  const int rc = writer.listen(&port);
  if (rc < 0) {
    std::cerr << "ringcast-bench: limit writer: listen: " << uv_strerror(rc) << "\n";
    return 2;
  }
  const std::string line = "PORT " + std::to_string(port) + "\n";
  if (write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 2;
  close(report_fd);
  WriterProcess process{&writer, {}, {}};
  uv_timer_init(&loop, &process.tick);
  process.tick.data = &process;
  uv_timer_start(&process.tick, tick_cb, 0, 1);
  uv_signal_init(&loop, &process.terminate);
  uv_signal_start(&process.terminate, terminate_cb, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  return 0;  // the process exits here; its sockets close with it
}

}  // namespace ringcast::bench
