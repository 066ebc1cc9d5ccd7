// DaemonLock: one pmxd per home, through a write lock on $PMX_HOME/pmxd.pid.
//
// The lock is an open-file-description lock (F_OFD_SETLK): like flock it belongs to the open
// file, so it survives the daemon's detaching fork and goes when the daemon exits; unlike flock
// it can be tested without being taken (F_OFD_GETLK), which is how a CLI that lost the
// start race knows that another pmxd is coming up and waits for its socket.
#pragma once

#include <sys/types.h>

#include <string>

namespace pmx::daemon {

class DaemonLock {
 public:
  /// Locks path; throws std::runtime_error naming the running daemon's pid when it is held.
  explicit DaemonLock(const std::string& path);
  /// Takes over the lock the pmxd before this one held on fd, passed across `pmx update`'s exec
  /// (kInheritedLockEnv) so that no other pmxd can take it in between. Throws unless fd is
  /// open on path and holds its lock; the fd is made close-on-exec again.
  DaemonLock(const std::string& path, int inherited_fd);

  /// The environment variable that tells the pmxd exec'd by `update` its inherited lock's fd.
  static constexpr const char* kInheritedLockEnv = "PMX_INHERITED_LOCK_FD";
  /// The locked descriptor (to pass on across an exec).
  int fd() const { return fd_; }
  ~DaemonLock();
  DaemonLock(const DaemonLock&) = delete;
  DaemonLock& operator=(const DaemonLock&) = delete;

  /// Writes pid into the file (after detaching, the pid changes).
  void write_pid(pid_t pid);
  /// Empties the file at exit, still holding the lock: unlinking it would let a pmxd starting
  /// meanwhile lock a new file while this one still runs. The lock goes with the fd.
  void clear();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace pmx::daemon
