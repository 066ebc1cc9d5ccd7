// Closing what a forked child inherited before it execs something long-lived.
#include "cli/close_fds.hpp"

#include <sys/syscall.h>
#include <unistd.h>

namespace pmx::cli {

void close_fds_from(int lowest) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  for (int fd = lowest; fd < 65536; ++fd) ::close(fd);
}

}  // namespace pmx::cli
