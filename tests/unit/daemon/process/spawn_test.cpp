// Tests of daemon/process/spawn.hpp that need no daemon: what a failed child step reports, and how it
// is worded (the supervisor shows that text as the instance's exec error).
#include "daemon/process/spawn.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace pmx::daemon {
namespace {

struct Outcome {
  int err = -1;
  std::string step;
  int status = 0;
};

Outcome spawn_and_wait(SpawnRequest req) {
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  req.stdout_fd = out;
  req.stderr_fd = out;
  SpawnResult r = spawn(req);
  ::close(out);
  REQUIRE(r.pid > 0);
  Outcome o;
  if (r.failed) {
    // pmxd waited for the child (vfork): the failure was known when spawn returned.
    CHECK(r.exec_report_fd == -1);
    o.err = r.failed->err;
    o.step = r.failed->step;
  } else {
    boost::asio::io_context io;
    watch_exec(io, r.exec_report_fd, [&](int err, const std::string& step) {
      o.err = err;
      o.step = step;
    });
    io.run();
  }
  REQUIRE(::waitpid(r.pid, &o.status, 0) == r.pid);
  return o;
}

}  // namespace

TEST_CASE("spawn: a failed step is known when spawn returns, a successful exec closes the pipe",
          "[spawn]") {
  SpawnRequest bad;
  bad.program = "/nonexistent/program";
  bad.argv = {"program"};
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  bad.stdout_fd = bad.stderr_fd = out;
  SpawnResult failed = spawn(bad);
  REQUIRE(failed.pid > 0);
  REQUIRE(failed.failed.has_value());
  CHECK(failed.failed->step == "exec");
  CHECK(failed.exec_report_fd == -1);
  int status = 0;
  REQUIRE(::waitpid(failed.pid, &status, 0) == failed.pid);

  SpawnRequest good = bad;
  good.program = "/bin/true";
  good.argv = {"true"};
  SpawnResult ran = spawn(good);
  ::close(out);
  REQUIRE(ran.pid > 0);
  CHECK_FALSE(ran.failed.has_value());
  boost::asio::io_context io;
  int outcome = -1;
  watch_exec(io, ran.exec_report_fd, [&](int err, const std::string&) { outcome = err; });
  io.run();
  CHECK(outcome == 0);
  REQUIRE(::waitpid(ran.pid, &status, 0) == ran.pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a missing cwd is reported as the chdir step and named in the message", "[spawn]") {
  SpawnRequest req;
  req.program = "/bin/true";
  req.argv = {"/bin/true"};
  req.cwd = "/nonexistent/pmx-test-dir";
  Outcome o = spawn_and_wait(req);
  CHECK(o.err == ENOENT);
  CHECK(o.step == "chdir");
  CHECK(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 127);
  const std::string message = describe_exec_failure(o.err, o.step, req.program, req.cwd);
  CHECK(message == "cannot change to the app's cwd /nonexistent/pmx-test-dir (for /bin/true): No such file or directory");
}

TEST_CASE("a program that cannot be executed is named in the message", "[spawn]") {
  SpawnRequest req;
  req.program = "/nonexistent/program";
  req.argv = {"program"};
  req.cwd = "/";
  Outcome o = spawn_and_wait(req);
  CHECK(o.err == ENOENT);
  CHECK(o.step == "exec");
  CHECK(describe_exec_failure(o.err, o.step, req.program, req.cwd) ==
        "cannot execute /nonexistent/program: No such file or directory");
}

TEST_CASE("a successful exec reports no error", "[spawn]") {
  SpawnRequest req;
  req.program = "/bin/true";
  req.argv = {"/bin/true"};
  Outcome o = spawn_and_wait(req);
  CHECK(o.err == 0);
  CHECK(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 0);
}

}  // namespace pmx::daemon
