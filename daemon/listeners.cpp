// Listeners: bind, listen and close the sockets of a cluster-mode app.
#include "daemon/listeners.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pmx::daemon {
namespace {

int fail(int fd, const char*& step, const char* what) {
  const int err = errno;
  step = what;
  if (fd >= 0) ::close(fd);
  errno = err;
  return -1;
}

int open_tcp(const config::ListenAddress& a, const char*& step) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (a.host.empty() || a.host.find(':') != std::string::npos) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(a.port));
    if (!a.host.empty()) inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr);
    else v6->sin6_addr = in6addr_any;
    len = sizeof *v6;
    family = AF_INET6;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(a.port));
    inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr);
    len = sizeof *v4;
  }
  // Non-blocking: every instance accepts from this one socket, and the open file (with its
  // O_NONBLOCK) is shared. A blocking accept() in an instance that lost the race for a
  // connection would stall it until the next one came: Node's loop stops there, signals
  // included (libuv takes a received socket as it is).
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 && family == AF_INET6 && a.host.empty() && errno == EAFNOSUPPORT) {
    // No IPv6 on this system: every address is 0.0.0.0.
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    *v4 = sockaddr_in{};
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(a.port));
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *v4;
    family = AF_INET;
    fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  }
  if (fd < 0) return fail(fd, step, "socket");
  const int on = 1, off = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // A pmxd that crashed leaves its apps serving from its sockets; SO_REUSEPORT lets the next
  // pmxd bind the same address beside them (same user only) for the runs it starts. A
  // server of another kind on the port (without SO_REUSEPORT) still makes the bind fail.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (family == AF_INET6 && a.host.empty()) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail(fd, step, "bind");
  if (::listen(fd, SOMAXCONN) != 0) return fail(fd, step, "listen");
  return fd;
}

int open_unix(const config::ListenAddress& a, const char*& step) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, a.path.c_str(), a.path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);  // as open_tcp's
  if (fd < 0) return fail(fd, step, "socket");
  struct stat st{};
  if (::lstat(a.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    // A socket file left behind is replaced; one a server still answers on is in use.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) ::close(probe);
    if (live) {
      errno = EADDRINUSE;
      return fail(fd, step, "bind");
    }
    ::unlink(a.path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return fail(fd, step, "bind");
  if (::chmod(a.path.c_str(), a.mode) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::unlink(a.path.c_str());
    errno = err;
    return fail(fd, step, "listen");
  }
  return fd;
}

}  // namespace

int open_listener(const config::ListenAddress& address, const char*& step) {
  return address.kind == config::ListenAddress::Kind::Unix ? open_unix(address, step) : open_tcp(address, step);
}

Result<bool> Listeners::bind(const std::vector<config::ListenAddress>& addresses) {
  if (bound()) {
    bool same = configured_ == addresses.size();
    for (std::size_t i = 0; same && i < addresses.size(); ++i) same = sockets_[i].address == addresses[i];
    if (same) return true;
    close();
  }
  std::vector<Socket> opened;
  for (const auto& a : addresses) {
    const char* step = "";
    const int fd = open_listener(a, step);
    if (fd < 0) {
      const int err = errno;
      for (auto& s : opened) {
        ::close(s.fd);
        if (s.address.kind == config::ListenAddress::Kind::Unix) ::unlink(s.address.path.c_str());
      }
      std::string message = a.text() + ": " + std::strerror(err);
      if (err == EACCES && a.kind == config::ListenAddress::Kind::Tcp && a.port < 1024) {
        message += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
      }
      return Error{message + (std::strcmp(step, "bind") == 0 ? "" : std::string(" (") + step + ")")};
    }
    opened.push_back(Socket{a, fd});
  }
  sockets_ = std::move(opened);
  configured_ = sockets_.size();
  return true;
}

int Listeners::socket_for(const config::ListenAddress& address, int index) {
  const bool ephemeral = address.kind == config::ListenAddress::Kind::Tcp && address.port == 0;
  for (const auto& s : sockets_) {
    if (s.address == address && (!ephemeral || s.index == index)) return s.fd;
  }
  const char* step = "";
  const int fd = open_listener(address, step);
  if (fd >= 0) sockets_.push_back(Socket{address, fd, ephemeral ? index : 0});
  return fd;
}

bool Listeners::has(const config::ListenAddress& address) const {
  for (const auto& s : sockets_) {
    if (s.address == address) return true;
  }
  return false;
}

void Listeners::close() {
  for (auto& s : sockets_) {
    ::close(s.fd);
    if (s.address.kind == config::ListenAddress::Kind::Unix) ::unlink(s.address.path.c_str());
  }
  sockets_.clear();
  configured_ = 0;
}

std::vector<int> Listeners::fds() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < configured_; ++i) out.push_back(sockets_[i].fd);
  return out;
}

std::vector<std::string> Listeners::texts() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < configured_; ++i) out.push_back(sockets_[i].address.text());
  return out;
}

int Listeners::first_port() const {
  for (std::size_t i = 0; i < configured_; ++i) {
    if (sockets_[i].address.kind == config::ListenAddress::Kind::Tcp) return sockets_[i].address.port;
  }
  return 0;
}

}  // namespace pmx::daemon
