// OutputFifo: mkfifo and the two ways the FIFO is opened.
#include "daemon/logs/output_fifo.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace pmx::daemon {

std::string fifo_path(const std::string& dir, int id, Stream stream) {
  return dir + "/" + std::to_string(id) + (stream == Stream::Out ? ".out" : ".err");
}

std::error_code make_fifo(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISFIFO(st.st_mode)) return {};
    ::unlink(path.c_str());  // something else took the name: the FIFO replaces it
  }
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) return {errno, std::generic_category()};
  return {};
}

namespace {

/// Opens the FIFO at path read+write without following a link and without blocking, and keeps
/// it only if it is a FIFO (nothing else that took its name is ever handed to an app).
int open_fifo(const std::string& path, bool nonblocking) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st{};
  int err = 0;
  if (::fstat(fd, &st) != 0) err = errno;
  else if (!S_ISFIFO(st.st_mode)) err = EINVAL;
  else if (!nonblocking && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) err = errno;
  if (err == 0) return fd;
  ::close(fd);
  errno = err;
  return -1;
}

}  // namespace

int open_fifo_reader(const std::string& path) { return open_fifo(path, true); }

int open_fifo_child_end(const std::string& path) {
  // O_RDWR on a FIFO never blocks and makes the holder a reader too (Linux, fifo(7)); the
  // app's end blocks when the pipe is full, as a pipe does.
  return open_fifo(path, false);
}

}  // namespace pmx::daemon
