// Tests of daemon/spawn.hpp that need no daemon: what a failed child step reports, and how it
// is worded (the supervisor shows that text as the instance's exec error).
#include "daemon/spawn.hpp"

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
  boost::asio::io_context io;
  Outcome o;
  watch_exec(io, r.exec_report_fd, [&](int err, const std::string& step) {
    o.err = err;
    o.step = step;
  });
  io.run();
  REQUIRE(::waitpid(r.pid, &o.status, 0) == r.pid);
  return o;
}

}  // namespace

TEST_CASE("issue_6: a missing cwd is reported as the chdir step and named in the message", "[issue_6][spawn]") {
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

TEST_CASE("issue_6: a program that cannot be executed is named in the message", "[issue_6][spawn]") {
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

TEST_CASE("issue_6: a successful exec reports no error", "[issue_6][spawn]") {
  SpawnRequest req;
  req.program = "/bin/true";
  req.argv = {"/bin/true"};
  Outcome o = spawn_and_wait(req);
  CHECK(o.err == 0);
  CHECK(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 0);
}

}  // namespace pmx::daemon
