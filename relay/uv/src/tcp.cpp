#include "ringcast/uv/tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>

namespace ringcast::uv {

std::string Tcp::peer_name() const {
  sockaddr_storage address{};
  int length = sizeof(address);
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    uv_ip4_name(in, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    uv_ip6_name(in6, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

std::error_code Tcp::write_copy(std::string text) {
  struct Owned {
    uv_write_t request{};
    std::string text;
  };
  auto owned = std::make_unique<Owned>();
  owned->text = std::move(text);
  owned->request.data = owned.get();
  const uv_buf_t buffer =
      uv_buf_init(owned->text.data(), static_cast<unsigned>(owned->text.size()));
  const int status = uv_write(&owned->request, stream(), &buffer, 1, [](uv_write_t* request, int) {
    delete static_cast<Owned*>(request->data);
  });
  if (status == 0) owned.release();  // freed by the callback
  return error(status);
}

}  // namespace ringcast::uv
