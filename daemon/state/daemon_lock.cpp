// DaemonLock: an open-file-description lock held for the daemon's life; the file also tells the pid.
#include "daemon/state/daemon_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pmx::daemon {

DaemonLock::DaemonLock(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct flock whole{};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (::fcntl(fd_, F_OFD_SETLK, &whole) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("another pmxd is already running for this home (pid " + pid + ", lock " + path + ")");
  }
}

DaemonLock::DaemonLock(const std::string& path, int inherited_fd) : path_(path) {
  struct stat held{}, named{};
  if (inherited_fd < 0 || ::fstat(inherited_fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 ||
      held.st_dev != named.st_dev || held.st_ino != named.st_ino) {
    throw std::runtime_error("the lock passed on by the pmxd before (fd " + std::to_string(inherited_fd) +
                             ") is not " + path);
  }
  // The same open file description: taking its lock again succeeds (and proves it is ours).
  struct flock whole{};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (::fcntl(inherited_fd, F_OFD_SETLK, &whole) != 0) {
    throw std::runtime_error("the lock passed on by the pmxd before is not held (" + path + ")");
  }
  ::fcntl(inherited_fd, F_SETFD, FD_CLOEXEC);
  fd_ = inherited_fd;
}

DaemonLock::~DaemonLock() {
  if (fd_ >= 0) ::close(fd_);
}

void DaemonLock::write_pid(pid_t pid) {
  std::string text = std::to_string(pid) + "\n";
  if (::ftruncate(fd_, 0) != 0) return;
  ssize_t n = ::pwrite(fd_, text.data(), text.size(), 0);
  (void)n;
}

void DaemonLock::clear() {
  if (::ftruncate(fd_, 0) != 0) return;  // a stale pid is harmless: the lock is what counts
}

}  // namespace pmx::daemon
