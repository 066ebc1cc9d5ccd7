// Blocking client: connect, write one line, read until the matching reply line.
#include "ipc/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pmx::ipc {
namespace {

Response transport_error(const std::string& what) {
  Response r;
  r.error = RpcError{ErrorCode::InternalError, what, json{{"kind", "transport"}}};
  return r;
}

}  // namespace

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::error_code Client::connect(const std::string& path) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return std::make_error_code(std::errc::filename_too_long);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, std::generic_category()};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::error_code ec{errno, std::generic_category()};
    ::close(fd);
    return ec;
  }
  fd_ = fd;
  return {};
}

Response Client::call(const std::string& method, const json& params) {
  if (fd_ < 0) return transport_error("not connected to pmxd");
  const long id = next_id_++;
  std::string line = encode_request(id, method, params);
  line += '\n';
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      return transport_error(std::string("lost the connection to pmxd: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  char buf[65536];
  for (;;) {
    while (auto reply = lines_.next_line()) {
      Response r = decode_response(*reply);
      if (r.id == json(id) || r.id.is_null()) return r;
      // A reply to an earlier request (should not happen with sequential calls): skip it.
    }
    if (lines_.overflowed()) {
      close();
      return transport_error("pmxd sent a reply larger than the client accepts");
    }
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      return transport_error("pmxd closed the connection before answering");
    }
    lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

}  // namespace pmx::ipc
