// Descriptors passed with SCM_RIGHTS to a socket pmxd reads (an app's Node channel, the notify
// socket): pmxd takes none of them, and each is closed as soon as the message is read.
#pragma once

#include <sys/socket.h>

#include <cstddef>

namespace pmx::daemon {

/// Closes every descriptor passed in msg's SCM_RIGHTS control messages; how many it carried.
std::size_t close_passed_fds(msghdr& msg);

}  // namespace pmx::daemon
