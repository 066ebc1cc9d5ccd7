// NotifySocket: bind, read with recvmsg (credentials and any descriptors), parse, deliver.
#include "daemon/listeners/notify_socket.hpp"
#include "daemon/listeners/passed_fds.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "config/utf8.hpp"

namespace pmx::daemon {
namespace {

std::optional<pid_t> parse_pid(std::string_view text) {
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc{} || end != text.data() + text.size() || pid <= 0) return std::nullopt;
  return pid;
}

/// Room for the credentials and as many descriptors as the kernel passes in one message
/// (SCM_MAX_FD, 253); descriptors beyond the buffer are closed by the kernel (MSG_CTRUNC).
constexpr std::size_t kMaxFds = 253;
constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxFds);

}  // namespace

std::string notify_socket_path(const std::string& home, const std::string& runtime_dir, std::string& note) {
  note.clear();
  const std::string in_home = home + "/notify.sock";
  if (::geteuid() != 0 || runtime_dir.empty()) return in_home;
  auto fallback = [&](const std::string& why) {
    note = runtime_dir + " " + why;
    return in_home;
  };
  if (::mkdir(runtime_dir.c_str(), 0711) != 0 && errno != EEXIST) return fallback(std::string("cannot be made: ") + std::strerror(errno));
  struct stat st{};
  if (::lstat(runtime_dir.c_str(), &st) != 0) return fallback(std::strerror(errno));
  // Only root may have made it (runtime_dir's parent is root's), but it is checked, not assumed.
  if (!S_ISDIR(st.st_mode)) return fallback("is not a folder");
  if (st.st_uid != 0) return fallback("is not root's");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return fallback("can be written by others than root");
  // FNV-1a: the same name from every pmxd build, so that an updated pmxd binds where the apps
  // it adopts send.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : home) h = (h ^ c) * 0x100000001b3ULL;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(h));
  return runtime_dir + "/notify-" + std::to_string(::geteuid()) + "-" + hash + ".sock";
}

Notification parse_notify(std::string_view datagram) {
  Notification n;
  if (datagram.find('\0') != std::string_view::npos) return n;
  while (!datagram.empty()) {
    const std::size_t end = std::min(datagram.find('\n'), datagram.size());
    const std::string_view line = datagram.substr(0, end);
    datagram.remove_prefix(std::min(end + 1, datagram.size()));
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0 || !config::valid_utf8(line)) continue;
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (line == "READY=1") n.ready = true;
    else if (line == "STOPPING=1") n.stopping = true;
    else if (line == "RELOADING=1") n.reloading = true;
    // The first assignment of a key counts, as systemd reads STATUS= and MAINPID=.
    if (!n.fields.emplace(std::string(key), std::string(value)).second) continue;
    if (key == "STATUS") n.status = std::string(value);
    else if (key == "MAINPID") n.main_pid = parse_pid(value);
  }
  return n;
}

NotifySocket::NotifySocket(boost::asio::io_context& io, Handler on_notify)
    : on_notify_(std::move(on_notify)), stream_(io) {}

NotifySocket::~NotifySocket() { close(); }

Result<bool> NotifySocket::open(const std::string& path) {
  close();
  auto error = [&](const std::string& what) { return Error{"notify socket " + path + ": " + what}; };
  sockaddr_un sa{};
  if (path.empty() || path[0] != '/') return error("not an absolute path");
  if (path.size() >= sizeof sa.sun_path) {
    return error("path too long (" + std::to_string(path.size()) + " bytes, at most " +
                 std::to_string(sizeof sa.sun_path - 1) + "); choose a shorter PMX_HOME");
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);

  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    // A socket file here was left by a pmxd that is gone or is being replaced (one daemon
    // per home); anything else is not ours to remove.
    if (!S_ISSOCK(st.st_mode)) return error("exists and is not a socket");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return error(std::strerror(errno));
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return error(std::string("socket: ") + std::strerror(errno));
  auto fail = [&](const char* step) {
    const std::string message = std::string(step) + ": " + std::strerror(errno);
    ::close(fd);
    return error(message);
  };
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) return fail("SO_PASSCRED");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) return fail("bind");
  // Senders need write permission on the socket file; see the class comment for why 0666.
  if (::chmod(path.c_str(), 0666) != 0 || ::lstat(path.c_str(), &st) != 0) {
    Error e = fail("chmod");
    ::unlink(path.c_str());
    return e;
  }
  boost::system::error_code ec;
  stream_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    ::unlink(path.c_str());
    return error("assign: " + ec.message());
  }
  fd_ = fd;
  path_ = path;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  wait();
  return true;
}

void NotifySocket::close() {
  if (fd_ < 0) return;
  boost::system::error_code ignored;
  stream_.close(ignored);  // cancels the wait and closes fd_
  fd_ = -1;
  // Only the file this socket made: a newer pmxd may have put its own at the path.
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
}

void NotifySocket::wait() {
  stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    // Aborted: close() ran, perhaps the destructor; touch nothing.
    if (ec) return;
    read_burst();
    if (fd_ >= 0) wait();
  });
}

void NotifySocket::read_burst() {
  // One byte more than the largest datagram taken, so that MSG_TRUNC is set for any longer one.
  char data[kMaxDatagram + 1];
  alignas(cmsghdr) char control[kControlSize];
  for (int i = 0; i < kBurst && fd_ >= 0; ++i) {
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: nothing left; anything else: the next wake-up tries again
    }
    const ucred* cred = nullptr;
    ucred cred_copy{};
    counters_.fds_closed += close_passed_fds(msg);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        std::memcpy(&cred_copy, CMSG_DATA(c), sizeof cred_copy);
        cred = &cred_copy;
      }
    }
    if ((msg.msg_flags & MSG_TRUNC) || static_cast<std::size_t>(n) > kMaxDatagram) {
      ++counters_.truncated;
      continue;
    }
    if (!cred || cred->pid <= 0) {
      ++counters_.uncredited;
      continue;
    }
    Notification note = parse_notify(std::string_view(data, static_cast<std::size_t>(n)));
    if (note.fields.empty()) {
      ++counters_.empty;
      continue;
    }
    note.pid = cred->pid;
    note.uid = cred->uid;
    note.gid = cred->gid;
    ++counters_.delivered;
    // The read loop's boundary: a datagram whose handling fails is dropped, reading goes on.
    try {
      on_notify_(note);
    } catch (const std::exception& e) {
      ++counters_.failed;
      spdlog::error("handling an sd_notify datagram of pid {} failed: {}; ignoring it", note.pid, e.what());
    }
  }
}

}  // namespace pmx::daemon
