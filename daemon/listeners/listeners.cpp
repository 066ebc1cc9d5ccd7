// Listeners: bind, listen and close the sockets of a cluster-mode app, as pmxd or as the app's
// user, and remove their Unix socket files only while they are pmxd's own.
#include "daemon/listeners/listeners.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace pmx::daemon {
namespace {

/// While it lives, the calling thread makes, binds and removes files as user: its fsuid, fsgid
/// and supplementary groups. These are the thread's own credentials when set by raw system
/// calls (glibc's setgroups would change every thread of pmxd), and a socket made meanwhile
/// belongs to that user (its file, and its SO_REUSEPORT group). Only root switches; nothing
/// happens for nullptr, a user without ids, or a pmxd that is not root (its apps are its own
/// user).
class ActAs {
 public:
  explicit ActAs(const Credentials* user) {
    if (!user || (!user->uid && !user->gid) || ::geteuid() != 0) return;
    const int n = ::getgroups(0, nullptr);
    if (n < 0) {
      error_ = errno;
      return;
    }
    saved_groups_.resize(static_cast<std::size_t>(n));
    if (n > 0 && ::getgroups(n, saved_groups_.data()) < 0) {
      error_ = errno;
      return;
    }
    // An id of -1 changes nothing and returns the current one.
    saved_uid_ = ::syscall(SYS_setfsuid, -1);
    saved_gid_ = ::syscall(SYS_setfsgid, -1);
    if (::syscall(SYS_setgroups, user->groups.size(), user->groups.data()) != 0) {
      error_ = errno;
      return;
    }
    active_ = true;
    if (user->gid) ::syscall(SYS_setfsgid, *user->gid);
    if (user->uid) ::syscall(SYS_setfsuid, *user->uid);
    // setfsuid and setfsgid report no error: check that they took.
    if ((user->uid && ::syscall(SYS_setfsuid, -1) != static_cast<long>(*user->uid)) ||
        (user->gid && ::syscall(SYS_setfsgid, -1) != static_cast<long>(*user->gid))) {
      error_ = EPERM;
    }
  }
  ~ActAs() {
    if (!active_) return;
    ::syscall(SYS_setfsuid, saved_uid_);
    ::syscall(SYS_setfsgid, saved_gid_);
    ::syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data());
  }
  ActAs(const ActAs&) = delete;
  ActAs& operator=(const ActAs&) = delete;

  /// Why the switch failed (errno), 0 when it did not.
  int error() const { return error_; }

 private:
  bool active_ = false;
  int error_ = 0;
  long saved_uid_ = 0;
  long saved_gid_ = 0;
  std::vector<gid_t> saved_groups_;
};

/// How one socket is made.
struct How {
  const Credentials* act_as = nullptr;  ///< made and bound with this user's filesystem identity
  const Credentials* owner = nullptr;   ///< a Unix socket file is chowned to this user
  bool no_links = false;                ///< a Unix socket's folder is opened without following links
};

int fail(int fd, const char*& step, const char* what) {
  const int err = errno;
  step = what;
  if (fd >= 0) ::close(fd);
  errno = err;
  return -1;
}

/// An address that names no socket (a host that is no IP literal, a path without a name).
int invalid(const char*& step) {
  errno = EINVAL;
  return fail(-1, step, "bind");
}

int switch_failed(const ActAs& acting, const char*& step) {
  errno = acting.error();
  return fail(-1, step, "setfsuid");
}

int open_tcp(const config::ListenAddress& a, const How& how, const char*& step) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (a.host.empty() || a.host.find(':') != std::string::npos) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(a.port));
    if (a.host.empty()) v6->sin6_addr = in6addr_any;
    else if (inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr) != 1) return invalid(step);
    len = sizeof *v6;
    family = AF_INET6;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(a.port));
    if (inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr) != 1) return invalid(step);
    len = sizeof *v4;
  }
  // The socket belongs to whoever makes it: as the app's user, SO_REUSEPORT joins only that
  // user's sockets, never a root server's.
  ActAs acting(how.act_as);
  if (acting.error()) return switch_failed(acting, step);
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

/// The folder of a socket, as an O_PATH descriptor; with no_links, no component of dir may be
/// a symbolic link (openat2 RESOLVE_NO_SYMLINKS).
int open_folder(const std::string& dir, bool no_links) {
  if (!no_links) return ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, dir.c_str(), &how, sizeof how));
}

/// A Unix socket whose folder is held open from before the bind: the file's identity is taken
/// there at once, and it is the only file ever changed or removed. The bind itself names the
/// real path (it is what getsockname() tells the app, and what sd_is_socket_unix() compares),
/// resolved with the rights of whoever binds: the app's user for a socket the app asked for,
/// pmxd for one its configuration grants (see docs/security.md).
int open_unix(const config::ListenAddress& a, const How& how, SocketFile& file, const char*& step) {
  const auto slash = a.path.rfind('/');
  const std::string name = slash == std::string::npos ? "" : a.path.substr(slash + 1);
  if (a.path.empty() || a.path[0] != '/' || name.empty() || name == "." || name == "..") return invalid(step);
  const std::string dir = slash == 0 ? "/" : a.path.substr(0, slash);
  ActAs acting(how.act_as);
  if (acting.error()) return switch_failed(acting, step);
  const int dir_fd = open_folder(dir, how.no_links);
  if (dir_fd < 0) return fail(-1, step, errno == ELOOP ? "its folder (no symbolic link allowed)" : "its folder");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (a.path.size() >= sizeof sa.sun_path) {
    ::close(dir_fd);
    errno = ENAMETOOLONG;
    return fail(-1, step, "bind");
  }
  std::memcpy(sa.sun_path, a.path.c_str(), a.path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);  // as open_tcp's
  if (fd < 0) {
    ::close(dir_fd);
    return fail(-1, step, "socket");
  }
  struct stat st{};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode)) {
    // A socket file left behind is replaced; one a server still answers on is in use (a full
    // backlog, EAGAIN, is a server too).
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const bool live = probe >= 0 && (::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ||
                                     errno == EAGAIN);
    if (probe >= 0) ::close(probe);
    if (live) {
      ::close(dir_fd);
      errno = EADDRINUSE;
      return fail(fd, step, "bind");
    }
    ::unlinkat(dir_fd, name.c_str(), 0);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const int err = errno;
    ::close(dir_fd);
    errno = err;
    return fail(fd, step, "bind");
  }
  // The file's identity, taken at once in the folder held: only this file is ever changed or
  // removed. No socket there: the path led elsewhere by the time of the bind (a folder on the
  // way swapped meanwhile), and nothing more is done.
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK(st.st_mode)) {
    ::close(dir_fd);
    errno = ESTALE;
    return fail(fd, step, "bind (its folder changed meanwhile)");
  }
  SocketFile made(dir_fd, name, st.st_dev, st.st_ino,
                  how.act_as ? std::optional<Credentials>(*how.act_as) : std::nullopt);
  // Owner and mode through a descriptor of that very file: a chmod by path would follow a link
  // put in its place.
  const int self = ::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat now{};
  bool ok = self >= 0 && ::fstat(self, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino;
  if (!ok && self >= 0) errno = EEXIST;
  if (ok && how.owner) {
    const uid_t uid = how.owner->uid ? *how.owner->uid : static_cast<uid_t>(-1);
    const gid_t gid = how.owner->gid ? *how.owner->gid : static_cast<gid_t>(-1);
    ok = ::fchownat(self, "", uid, gid, AT_EMPTY_PATH) == 0;
  }
  if (ok) {
    char through[32];
    std::snprintf(through, sizeof through, "/proc/self/fd/%d", self);
    ok = ::chmod(through, a.mode) == 0;
  }
  ok = ok && ::listen(fd, SOMAXCONN) == 0;
  const int err = errno;
  if (self >= 0) ::close(self);
  if (!ok) {
    made.remove();
    errno = err;
    return fail(fd, step, "listen");
  }
  file = std::move(made);
  return fd;
}

int open_listener(const config::ListenAddress& address, const How& how, SocketFile& file, const char*& step) {
  return address.kind == config::ListenAddress::Kind::Unix ? open_unix(address, how, file, step)
                                                           : open_tcp(address, how, step);
}

/// The port a TCP socket is bound to (the kernel's pick for port 0); 0 for any other.
int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

}  // namespace

bool same_socket(const config::ListenAddress& a, const config::ListenAddress& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == config::ListenAddress::Kind::Unix) return a.path == b.path;
  return a.host == b.host && a.port == b.port;
}

SocketFile& SocketFile::operator=(SocketFile&& other) noexcept {
  if (this != &other) {
    if (dir_fd_ >= 0) ::close(dir_fd_);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    name_ = std::move(other.name_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    made_as_ = std::move(other.made_as_);
  }
  return *this;
}

SocketFile::~SocketFile() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void SocketFile::remove() {
  if (dir_fd_ < 0) return;
  {
    // As its maker: in a folder the app's user can write, the unlink is one that user could make.
    ActAs acting(made_as_ ? &*made_as_ : nullptr);
    struct stat st{};
    if (!acting.error() && ::fstatat(dir_fd_, name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) {
      ::unlinkat(dir_fd_, name_.c_str(), 0);
    }
  }
  ::close(dir_fd_);
  dir_fd_ = -1;
}

Result<bool> Listeners::bind(const std::vector<config::ListenAddress>& addresses, const Credentials* owner) {
  if (bound()) {
    bool same = configured_ == addresses.size();
    for (std::size_t i = 0; same && i < addresses.size(); ++i) same = sockets_[i].address == addresses[i];
    if (same) return true;
    close();
  }
  How how;
  how.owner = owner;
  how.no_links = owner != nullptr;
  std::vector<Socket> opened;
  for (const auto& a : addresses) {
    const char* step = "";
    SocketFile file;
    const int fd = open_listener(a, how, file, step);
    if (fd < 0) {
      const int err = errno;
      for (auto& s : opened) {
        ::close(s.fd);
        s.file.remove();
      }
      std::string message = a.text() + ": " + std::strerror(err);
      if (err == EACCES && a.kind == config::ListenAddress::Kind::Tcp && a.port < 1024) {
        message += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
      }
      return Error{message + (std::strcmp(step, "bind") == 0 ? "" : std::string(" (") + step + ")")};
    }
    Socket& made = opened.emplace_back();
    made.address = a;
    made.fd = fd;
    made.file = std::move(file);
    made.port = bound_port(fd);
  }
  sockets_ = std::move(opened);
  configured_ = sockets_.size();
  return true;
}

int Listeners::socket_for(const config::ListenAddress& address, int index, const Credentials* user, int slot) {
  const bool ephemeral = address.kind == config::ListenAddress::Kind::Tcp && address.port == 0;
  for (auto& s : sockets_) {
    if (same_socket(s.address, address) && (!ephemeral || s.index == index)) return slot_fd(s, slot);
  }
  if (sockets_.size() >= kMaxSockets) {
    errno = EMFILE;
    return -1;
  }
  How how;
  how.act_as = user;
  const char* step = "";
  SocketFile file;
  const int fd = open_listener(address, how, file, step);
  if (fd < 0) return fd;
  Socket& made = sockets_.emplace_back();
  made.address = address;
  made.fd = fd;
  made.index = ephemeral ? index : 0;
  made.file = std::move(file);
  if (user) made.made_as = *user;
  made.port = bound_port(fd);
  return slot_fd(sockets_.back(), slot);
}

bool Listeners::balance(Socket& s) {
  if (s.balance_tried) return false;
  s.balance_tried = true;
  if (!balancing_ || s.address.kind != config::ListenAddress::Kind::Tcp || s.fd < 0) return false;
  std::error_code ec;
  s.balancer = ReuseportBalancer::create(s.fd, ec);  // no CAP_BPF: the one shared socket
  return s.balancer != nullptr;
}

int Listeners::slot_fd(Socket& s, int slot) {
  if (!s.balancer) {
    // One slot alone needs no balancer (nor its three descriptors): the first slot takes the
    // socket; a second one balances the address from then on, the first keeping its socket.
    if (s.first_slot < 0) s.first_slot = slot;
    if (s.first_slot == slot || !balance(s)) return s.fd;
    s.slots[s.first_slot] = std::exchange(s.fd, -1);
    take_turns(s);  // the first slot, if it serves, takes the connections until this one does
  }
  if (auto it = s.slots.find(slot); it != s.slots.end()) return it->second;
  // The socket bound before any slot asked (or the last one a slot left) goes to the first
  // slot that asks; each other slot gets one of its own on the same address and port, made as
  // the first was (a SO_REUSEPORT group is one user's).
  int fd = std::exchange(s.fd, -1);
  if (fd < 0) {
    config::ListenAddress same = s.address;
    same.port = s.port;
    How how;
    how.act_as = s.made_as ? &*s.made_as : nullptr;
    const char* step = "";
    fd = open_tcp(same, how, step);
    // Cannot make another (no fd left): the slot shares one of the others'.
    if (fd < 0) return s.slots.empty() ? -1 : s.slots.begin()->second;
  }
  s.slots[slot] = fd;
  return fd;
}

void Listeners::take_turns(Socket& s) {
  std::vector<int> active;
  for (const auto& [slot, fd] : s.slots) {
    if (serving_.count(slot)) active.push_back(fd);
  }
  // A serving slot without a socket here accepts from one pmxd did not make for it (a run
  // adopted after a crash of pmxd holds its predecessor's): the kernel's hash over the whole
  // group then, which reaches every socket, until every serving slot has one of these.
  for (int slot : serving_) {
    if (!s.slots.count(slot)) active.clear();
  }
  if (active != s.active) {
    s.balancer->set_active(active);  // a failure leaves the kernel's hash, which still serves
    s.active = std::move(active);
  }
}

void Listeners::set_slots(const std::set<int>& serving, const std::set<int>& held) {
  serving_ = serving;
  for (auto& s : sockets_) {
    if (!s.balancer) continue;
    // Out of the balancer's turn first: from then on a leaving socket gets no new connection,
    // and those still queued in it move to a serving one when it is closed.
    take_turns(s);
    std::vector<int> leaving;
    for (const auto& [slot, fd] : s.slots) {
      if (!serving.count(slot) && !held.count(slot)) leaving.push_back(slot);
    }
    for (int slot : leaving) {
      const int fd = s.slots[slot];
      s.slots.erase(slot);
      // The address's last socket stays open (not in the turn), so that the port stays the
      // app's until the app lets it go; the next slot to ask takes it.
      if (s.slots.empty() && s.fd < 0) s.fd = fd;
      else ::close(fd);
    }
  }
}

bool Listeners::balanced(const config::ListenAddress& address) const {
  for (const auto& s : sockets_) {
    if (same_socket(s.address, address)) return s.balancer != nullptr;
  }
  return false;
}

bool Listeners::has(const config::ListenAddress& address) const {
  for (const auto& s : sockets_) {
    if (same_socket(s.address, address)) return true;
  }
  return false;
}

void Listeners::close() {
  for (auto& s : sockets_) {
    if (s.fd >= 0) ::close(s.fd);
    for (const auto& [slot, fd] : s.slots) ::close(fd);
    s.file.remove();
  }
  sockets_.clear();
  configured_ = 0;
}

std::vector<int> Listeners::fds(int slot) {
  std::vector<int> out;
  for (std::size_t i = 0; i < configured_; ++i) out.push_back(slot_fd(sockets_[i], slot));
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
