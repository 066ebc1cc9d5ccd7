// Tests of daemon/process/system_process_ops.hpp that need no daemon: a run's cgroup that cannot be
// opened fails the spawn, naming it, instead of starting the run outside it (where no stop,
// which signals the cgroup's members, would ever reach it).
#include "daemon/process/system_process_ops.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {
namespace {

/// A request for /bin/true with its output to /dev/null (out is the caller's to close).
SpawnRequest true_request(int out) {
  SpawnRequest req;
  req.program = "/bin/true";
  req.argv = {"true"};
  req.stdout_fd = out;
  req.stderr_fd = out;
  return req;
}

/// Reaps what an unexpected success started, so that a failing check leaves no zombie.
void reap_if_started(const Result<pid_t>& spawned) {
  if (!spawned) return;
  int status = 0;
  ::waitpid(*spawned, &status, 0);
}

}  // namespace

TEST_CASE("a run's cgroup that cannot be opened fails the spawn, naming the cgroup, and no process is made",
          "[process_ops][regression]") {
  boost::asio::io_context io;
  SystemProcessOps ops(io, false, "pmx-unit");
  pmx::test::TempDir dir;
  const int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  bool reported = false;
  auto report = [&](int, const std::string&) { reported = true; };

  SECTION("the cgroup is gone") {
    const std::string gone = dir.path + "/gone-cgroup";
    Result<pid_t> spawned = ops.spawn(true_request(out), gone, report);
    reap_if_started(spawned);
    REQUIRE_FALSE(spawned);
    CHECK(spawned.error() == "cannot open its cgroup " + gone + ": No such file or directory");
  }
  SECTION("pmxd is out of descriptors (EMFILE)") {
    // Every descriptor below a lowered limit taken: the cgroup's open is the first to fail.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = 256;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> taken;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken.push_back(fd);
    Result<pid_t> spawned = ops.spawn(true_request(out), dir.path, report);
    for (int fd : taken) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    reap_if_started(spawned);
    REQUIRE_FALSE(spawned);
    CHECK(spawned.error() == "cannot open its cgroup " + dir.path + ": Too many open files");
  }
  ::close(out);
  io.poll();
  CHECK_FALSE(reported);  // no exec to report on
}

}  // namespace pmx::daemon
