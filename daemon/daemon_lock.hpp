// DaemonLock: one pmxd per home, through an flock on $PMX_HOME/pmxd.pid.
#pragma once

#include <sys/types.h>

#include <string>

namespace pmx::daemon {

class DaemonLock {
 public:
  /// Locks path; throws std::runtime_error naming the running daemon's pid when it is held.
  explicit DaemonLock(const std::string& path);
  ~DaemonLock();
  DaemonLock(const DaemonLock&) = delete;
  DaemonLock& operator=(const DaemonLock&) = delete;

  /// Writes pid into the file (after detaching, the pid changes).
  void write_pid(pid_t pid);
  /// Removes the file; the lock goes with the fd at exit.
  void remove();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace pmx::daemon
