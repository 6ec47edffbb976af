// A TCP connection's handle and its requests, thin over libuv (handles.h for the pattern): the
// owner binds its members once (the alloc and read callbacks, and what runs once the handle is
// closed), reads into the buffers it gives, writes with try_write and then a Write request for
// what the kernel left, shuts down and closes. libuv's status codes come out as
// std::error_code.
//
// The fan-out's writes keep libuv's two steps in sight: try_write (uv_try_write: what the kernel
// takes now, no request, no callback) and Write::start (uv_write of the rest, one request per
// viewer, reused).
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>
#include <system_error>

#include "ringcast/uv/error.h"

namespace ringcast::uv {

class Tcp {
 public:
  Tcp() = default;
  Tcp(const Tcp&) = delete;
  Tcp& operator=(const Tcp&) = delete;

  // Binds the owner's members: OnAlloc(uv_buf_t*) gives the next read's buffer, OnRead(error,
  // n, buffer) takes what came (n == 0 with no error: nothing this time), OnClosed() runs in the
  // close callback (the owner may free itself there, and this with it).
  template <auto OnAlloc, auto OnRead, auto OnClosed, typename Owner>
  void bind(Owner* owner) {
    owner_ = owner;
    alloc_ = [](void* self, uv_buf_t* buffer) { (static_cast<Owner*>(self)->*OnAlloc)(buffer); };
    read_ = [](void* self, std::error_code error, std::size_t n, const uv_buf_t* buffer) {
      (static_cast<Owner*>(self)->*OnRead)(error, n, buffer);
    };
    closed_ = [](void* self) { (static_cast<Owner*>(self)->*OnClosed)(); };
    handle_.data = this;
  }
  // Adopts a connected socket (accepted on another thread, or connected by an edge's pull).
  // An error from the init leaves no handle (nothing to close; the fd is the caller's); one
  // from the open leaves a handle to close.
  std::error_code init(uv_loop_t* loop) {
    const int status = uv_tcp_init(loop, &handle_);
    initialized_ = status == 0;
    return error(status);
  }
  std::error_code open(int fd) { return error(uv_tcp_open(&handle_, fd)); }
  // Connects (after init); OnConnected(error) of the owner given to bind() (UV_ECANCELED when
  // the handle closes first).
  template <auto OnConnected, typename Owner>
  std::error_code connect(const sockaddr* address) {
    connected_ = [](void* self, std::error_code error) {
      (static_cast<Owner*>(self)->*OnConnected)(error);
    };
    connect_.data = this;
    return error(uv_tcp_connect(&connect_, &handle_, address, connect_cb));
  }
  void set_nodelay() { uv_tcp_nodelay(&handle_, 1); }

  std::error_code read_start() { return error(uv_read_start(stream(), alloc_cb, read_cb)); }
  void read_stop() { uv_read_stop(stream()); }

  struct Written {
    std::size_t bytes = 0;  // what the kernel took now (0: nothing, the socket is full)
    std::error_code error;  // the connection failed
  };
  Written try_write(const uv_buf_t* buffers, unsigned count) {
    const int n = uv_try_write(stream(), buffers, count);
    if (n >= 0) return {static_cast<std::size_t>(n), {}};
    if (n == UV_EAGAIN) return {};
    return {0, error(n)};
  }

  // Writes `text` after what is queued, keeping it until written, then freeing it (answers and
  // status lines, never the stream).
  std::error_code write_copy(std::string text);
  // What libuv still holds of queued writes, in bytes.
  std::size_t write_queue_size() const { return handle_.write_queue_size; }

  // A FIN after the queued writes; OnDone(error) of the owner given to bind() (UV_ECANCELED
  // when the handle closes first). One at a time.
  template <auto OnDone, typename Owner>
  std::error_code shutdown() {
    shutdown_done_ = [](void* self, std::error_code error) {
      (static_cast<Owner*>(self)->*OnDone)(error);
    };
    shutdown_.data = this;
    return error(uv_shutdown(&shutdown_, stream(), shutdown_cb));
  }

  bool closing() const { return !initialized_ || uv_is_closing(handle()); }
  // Idempotent. Writes in flight end with UV_ECANCELED; OnClosed runs once libuv is done.
  void close() {
    if (!closing()) uv_close(reinterpret_cast<uv_handle_t*>(&handle_), close_cb);
  }

  // The socket's descriptor, for what libuv has no call for; -1 once closing.
  int fd() const {
    uv_os_fd_t fd;
    return uv_fileno(handle(), &fd) == 0 ? fd : -1;
  }
  // "203.0.113.9:51234" ("[2001:db8::1]" is written without brackets, as libuv names it); "?"
  // when the peer is unknown.
  std::string peer_name() const;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }

 private:
  const uv_handle_t* handle() const { return reinterpret_cast<const uv_handle_t*>(&handle_); }
  static Tcp& of(const uv_handle_t* handle) { return *static_cast<Tcp*>(handle->data); }

  // libuv callbacks
  static void alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) {
    Tcp& self = of(handle);
    self.alloc_(self.owner_, buffer);
  }
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
    Tcp& self = of(reinterpret_cast<uv_handle_t*>(stream));
    if (nread >= 0) {
      self.read_(self.owner_, {}, static_cast<std::size_t>(nread), buffer);
    } else {
      self.read_(self.owner_, error(static_cast<int>(nread)), 0, buffer);
    }
  }
  static void connect_cb(uv_connect_t* request, int status) {
    Tcp& self = *static_cast<Tcp*>(request->data);
    self.connected_(self.owner_, error(status));
  }
  static void shutdown_cb(uv_shutdown_t* request, int status) {
    Tcp& self = *static_cast<Tcp*>(request->data);
    self.shutdown_done_(self.owner_, error(status));
  }
  static void close_cb(uv_handle_t* handle) {
    Tcp& self = of(handle);
    self.closed_(self.owner_);
  }

  uv_tcp_t handle_{};
  uv_shutdown_t shutdown_{};
  uv_connect_t connect_{};
  bool initialized_ = false;
  void* owner_ = nullptr;
  void (*alloc_)(void*, uv_buf_t*) = nullptr;
  void (*read_)(void*, std::error_code, std::size_t, const uv_buf_t*) = nullptr;
  void (*closed_)(void*) = nullptr;
  void (*shutdown_done_)(void*, std::error_code) = nullptr;
  void (*connected_)(void*, std::error_code) = nullptr;
};

// One write request: the buffers (the caller keeps them alive until done) go out after what is
// queued; OnDone(error) of the owner runs when the kernel has them all (UV_ECANCELED: the
// handle closed first). Reusable once done.
class Write {
 public:
  template <auto OnDone, typename Owner>
  std::error_code start(Tcp& tcp, const uv_buf_t* buffers, unsigned count, Owner* owner) {
    owner_ = owner;
    done_ = [](void* self, std::error_code error) { (static_cast<Owner*>(self)->*OnDone)(error); };
    request_.data = this;
    return error(uv_write(&request_, tcp.stream(), buffers, count, write_cb));
  }

 private:
  // libuv callbacks
  static void write_cb(uv_write_t* request, int status) {
    Write& self = *static_cast<Write*>(request->data);
    self.done_(self.owner_, error(status));
  }

  uv_write_t request_{};
  void* owner_ = nullptr;
  void (*done_)(void*, std::error_code) = nullptr;
};

// A name lookup on libuv's thread pool: OnResolved(error, addresses) of its owner on the loop;
// the addresses are freed after the call. One at a time.
class Resolve {
 public:
  template <auto OnResolved, typename Owner>
  std::error_code start(uv_loop_t* loop, Owner* owner, const char* host, const char* service,
                        const addrinfo* hints) {
    owner_ = owner;
    done_ = [](void* self, std::error_code error, const addrinfo* result) {
      (static_cast<Owner*>(self)->*OnResolved)(error, result);
    };
    request_.data = this;
    return error(uv_getaddrinfo(loop, &request_, resolved_cb, host, service, hints));
  }

 private:
  // libuv callbacks
  static void resolved_cb(uv_getaddrinfo_t* request, int status, addrinfo* result) {
    Resolve& self = *static_cast<Resolve*>(request->data);
    self.done_(self.owner_, error(status), status == 0 ? result : nullptr);
    uv_freeaddrinfo(result);
  }

  uv_getaddrinfo_t request_{};
  void* owner_ = nullptr;
  void (*done_)(void*, std::error_code, const addrinfo*) = nullptr;
};

}  // namespace ringcast::uv
