// Closing the descriptors an app passes with SCM_RIGHTS.
#include "daemon/listeners/passed_fds.hpp"

#include <unistd.h>

#include <cstring>

namespace pmx::daemon {

std::size_t close_passed_fds(msghdr& msg) {
  std::size_t count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fd >= 0) ::close(fd);
      ++count;
    }
  }
  return count;
}

}  // namespace pmx::daemon
