// Tests of daemon/logs/output_fifo.hpp: the ends of an instance's output FIFO are only ever FIFOs,
// never reached through a link (an app's fd 1 is opened by pmxd as root).
#include "daemon/logs/output_fifo.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <fstream>
#include <string>

#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {

TEST_CASE("output FIFOs: both ends open a FIFO, the child's end blocking", "[output_fifo]") {
  test::TempDir dir;
  const std::string path = fifo_path(dir.path, 3, Stream::Out);
  CHECK(path == dir.path + "/3.out");
  REQUIRE_FALSE(make_fifo(path));
  const int reader = open_fifo_reader(path);
  const int child = open_fifo_child_end(path);
  REQUIRE(reader >= 0);
  REQUIRE(child >= 0);
  CHECK((::fcntl(reader, F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(child, F_GETFL) & O_NONBLOCK) == 0);
  CHECK((::fcntl(child, F_GETFD) & FD_CLOEXEC) != 0);
  ::close(reader);
  ::close(child);
}

TEST_CASE("output FIFOs: a link or a regular file in the FIFO's place is never opened", "[output_fifo][regression]") {
  test::TempDir dir;
  const std::string secret = dir.path + "/secret";
  std::ofstream(secret) << "root only\n";
  const std::string linked = dir.path + "/0.out";
  REQUIRE(::symlink(secret.c_str(), linked.c_str()) == 0);
  errno = 0;
  CHECK(open_fifo_child_end(linked) == -1);
  CHECK(errno == ELOOP);
  CHECK(open_fifo_reader(linked) == -1);
  const std::string plain = dir.path + "/0.err";
  std::ofstream(plain) << "";
  errno = 0;
  CHECK(open_fifo_child_end(plain) == -1);
  CHECK(errno == EINVAL);
  CHECK(open_fifo_reader(plain) == -1);
  // make_fifo puts a FIFO in place of whatever took the name.
  REQUIRE_FALSE(make_fifo(linked));
  struct stat st {};
  REQUIRE(::lstat(linked.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  const int fd = open_fifo_child_end(linked);
  CHECK(fd >= 0);
  if (fd >= 0) ::close(fd);
}

}  // namespace pmx::daemon
