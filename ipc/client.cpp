// Blocking client: connect, write one line, read until the matching reply line.
#include "ipc/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

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

std::optional<std::string> Client::exchange(const std::string& method, const json& params, long& id,
                                            Response& error) {
  if (fd_ < 0) {
    error = transport_error("not connected to pmxd");
    return std::nullopt;
  }
  id = next_id_++;
  std::string line = encode_request(id, method, params);
  line += '\n';
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      error = transport_error(std::string("lost the connection to pmxd: ") + std::strerror(errno));
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  char buf[65536];
  for (;;) {
    if (auto reply = lines_.next_line()) return reply;
    if (lines_.overflowed()) {
      close();
      error = transport_error("pmxd sent a reply larger than the client accepts");
      return std::nullopt;
    }
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      error = transport_error("pmxd closed the connection before answering");
      return std::nullopt;
    }
    lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

Response Client::call(const std::string& method, const json& params) {
  long id = 0;
  Response r;
  auto line = exchange(method, params, id, r);
  return line ? decode_response(*line) : r;
}

Response Client::call_raw(const std::string& method, const json& params, std::string& text) {
  long id = 0;
  Response r;
  auto line = exchange(method, params, id, r);
  if (!line) return r;
  if (auto raw = raw_result(*line, id)) {
    text = std::string(*raw);
    r.id = id;
    r.result = json();  // present, unparsed: the text is the result
    return r;
  }
  return decode_response(*line);
}

}  // namespace pmx::ipc
