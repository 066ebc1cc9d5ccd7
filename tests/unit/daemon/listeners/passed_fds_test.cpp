// Tests of daemon/listeners/passed_fds.hpp: descriptors that arrive with SCM_RIGHTS are closed
// and counted.
#include "daemon/listeners/passed_fds.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pmx::daemon {
namespace {

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST_CASE("close_passed_fds closes every descriptor a message carried and counts them", "[passed_fds]") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0);
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);

  // Send both ends of the pipe along with one byte.
  char byte = 'x';
  iovec out_iov{&byte, 1};
  alignas(cmsghdr) char out_control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr out{};
  out.msg_iov = &out_iov;
  out.msg_iovlen = 1;
  out.msg_control = out_control;
  out.msg_controllen = sizeof out_control;
  cmsghdr* c = CMSG_FIRSTHDR(&out);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  std::memcpy(CMSG_DATA(c), pipe_fds, 2 * sizeof(int));
  REQUIRE(::sendmsg(pair[0], &out, 0) == 1);

  char got = 0;
  iovec in_iov{&got, 1};
  alignas(cmsghdr) char in_control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr in{};
  in.msg_iov = &in_iov;
  in.msg_iovlen = 1;
  in.msg_control = in_control;
  in.msg_controllen = sizeof in_control;
  REQUIRE(::recvmsg(pair[1], &in, MSG_CMSG_CLOEXEC) == 1);
  int received[2];
  std::memcpy(received, CMSG_DATA(CMSG_FIRSTHDR(&in)), sizeof received);
  CHECK(fd_open(received[0]));
  CHECK(fd_open(received[1]));

  CHECK(close_passed_fds(in) == 2);
  CHECK_FALSE(fd_open(received[0]));
  CHECK_FALSE(fd_open(received[1]));

  for (int fd : {pair[0], pair[1], pipe_fds[0], pipe_fds[1]}) ::close(fd);
}

TEST_CASE("close_passed_fds: a message without descriptors closes nothing", "[passed_fds]") {
  msghdr none{};
  CHECK(close_passed_fds(none) == 0);
}

}  // namespace
}  // namespace pmx::daemon
