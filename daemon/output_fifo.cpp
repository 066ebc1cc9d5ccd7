// OutputFifo: mkfifo and the two ways the FIFO is opened.
#include "daemon/output_fifo.hpp"

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

int open_fifo_reader(const std::string& path) {
  return ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

int open_fifo_child_end(const std::string& path) {
  // O_RDWR on a FIFO never blocks and makes the holder a reader too (Linux, fifo(7)).
  return ::open(path.c_str(), O_RDWR | O_CLOEXEC);
}

}  // namespace pmx::daemon
