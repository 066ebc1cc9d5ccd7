#include "daemon/control/service_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

namespace pmx::daemon {

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : timer_(io) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  // WATCHDOG_PID, when set, names the process the watchdog is for: pmxd only if it is us.
  const char* wd_pid = std::getenv("WATCHDOG_PID");
  const char* wd_usec = std::getenv("WATCHDOG_USEC");
  if (wd_usec && (!wd_pid || std::strtol(wd_pid, nullptr, 10) == ::getpid())) {
    watchdog_ = std::chrono::microseconds(std::strtoull(wd_usec, nullptr, 10));
  }
  if (socket && (socket[0] == '/' || socket[0] == '@') && std::strlen(socket) < sizeof(sockaddr_un::sun_path)) {
    address_ = socket;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}) {
    ::unsetenv(name);
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool ServiceNotifier::send(std::string_view text) {
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (address_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  else ++len;                                        // the path's NUL
  if (::sendto(fd_, text.data(), text.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    spdlog::warn("sd_notify to {}: {}", address_, std::strerror(errno));
    return false;
  }
  return true;
}

void ServiceNotifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
  if (watchdog_.count() > 0 && active()) {
    spdlog::info("systemd watchdog every {} ms", watchdog_.count() / 2000);
    ping();
  }
}

void ServiceNotifier::stopping() {
  send("STOPPING=1\nSTATUS=stopping every app");
}

void ServiceNotifier::ping() {
  // A timer on the event loop: a loop that is stuck stops the pings, and systemd restarts pmxd.
  timer_.expires_after(watchdog_ / 2);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    send("WATCHDOG=1");
    ping();
  });
}

}  // namespace pmx::daemon
