// Tests of daemon/process/spawn.hpp that need no daemon: what a failed child step reports, and how it
// is worded (the supervisor shows that text as the instance's exec error).
#include "daemon/process/spawn.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>
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
  boost::asio::io_context io;
  watch_exec(io, r.exec_report_fd, [&](int err, const std::string& step) {
    o.err = err;
    o.step = step;
  });
  io.run();
  REQUIRE(::waitpid(r.pid, &o.status, 0) == r.pid);
  return o;
}

}  // namespace

TEST_CASE("spawn returns without waiting for the child: a failed step comes back through the pipe",
          "[spawn][regression]") {
  SpawnRequest bad;
  bad.program = "/nonexistent/program";
  bad.argv = {"program"};
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  bad.stdout_fd = bad.stderr_fd = out;
  // Whatever the child does before its exec (a chdir into a hung NFS mount, here a missing
  // program) is not waited for: the report pipe is handed to the loop, open.
  SpawnResult failed = spawn(bad);
  REQUIRE(failed.pid > 0);
  REQUIRE(failed.exec_report_fd >= 0);
  boost::asio::io_context io;
  std::string step;
  watch_exec(io, failed.exec_report_fd, [&](int, const std::string& s) { step = s; });
  io.run();
  CHECK(step == "exec");
  int status = 0;
  REQUIRE(::waitpid(failed.pid, &status, 0) == failed.pid);

  SpawnRequest good = bad;
  good.program = "/bin/true";
  good.argv = {"true"};
  SpawnResult ran = spawn(good);
  ::close(out);
  REQUIRE(ran.pid > 0);
  boost::asio::io_context io2;
  int outcome = -1;
  watch_exec(io2, ran.exec_report_fd, [&](int err, const std::string&) { outcome = err; });
  io2.run();
  CHECK(outcome == 0);
  REQUIRE(::waitpid(ran.pid, &status, 0) == ran.pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("spawn: a child reaped before the loop read its report has it delivered at the reaping, once",
          "[spawn]") {
  SpawnRequest bad;
  bad.program = "/nonexistent/program";
  bad.argv = {"program"};
  bad.cwd = "/";
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  bad.stdout_fd = bad.stderr_fd = out;
  SpawnResult r = spawn(bad);
  ::close(out);
  REQUIRE(r.pid > 0);
  boost::asio::io_context io;
  int calls = 0;
  std::string step;
  auto flush = watch_exec(io, r.exec_report_fd, [&](int, const std::string& s) {
    ++calls;
    step = s;
  });
  int status = 0;
  REQUIRE(::waitpid(r.pid, &status, 0) == r.pid);  // reaped: the loop has not run yet
  flush();
  CHECK(calls == 1);
  CHECK(step == "exec");
  io.run();  // the loop's own wait ends without a second report
  flush();
  CHECK(calls == 1);
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

namespace pmx::daemon {

TEST_CASE("a child's failed steps never change pmxd's errno, and its failure is reported as itself",
          "[spawn][regression]") {
  // On x86-64 the child shares pmxd's memory, and with it the thread pointer libc finds errno
  // through: a failing call in the child that went through libc would write pmxd's errno
  // while pmxd runs. Each child here fails (a missing cwd) after resetting every signal.
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  int changed = 0;
  for (int i = 0; i < 50; ++i) {
    SpawnRequest req;
    req.program = "/bin/true";
    req.argv = {"true"};
    req.cwd = "/nonexistent/pmx-test-dir";
    req.stdout_fd = req.stderr_fd = out;
    SpawnResult r = spawn(std::move(req));
    REQUIRE(r.pid > 0);
    errno = 777;
    int status = 0;
    pid_t reaped = 0;
    while ((reaped = ::waitpid(r.pid, &status, WNOHANG)) == 0) {
      if (errno != 777) ++changed;
      errno = 777;
    }
    REQUIRE(reaped == r.pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 127);
    ::close(r.exec_report_fd);
  }
  ::close(out);
  CHECK(changed == 0);
}

TEST_CASE("children whose exec fails, their memory held by the watch alone, each report it and exit 127",
          "[spawn]") {
  // The watch holds what the child reads (and the stack it runs on) until the pipe closes;
  // the caller lets go of its copy at once. A child whose memory went too early would die of
  // SIGSEGV on its way to exit (a race this cannot always catch).
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  boost::asio::io_context io;
  std::vector<pid_t> pids;
  int reports = 0;
  for (int i = 0; i < 50; ++i) {
    SpawnRequest req;
    req.program = "/nonexistent/program";
    req.argv = {"program"};
    req.stdout_fd = req.stderr_fd = out;
    SpawnResult r = spawn(std::move(req));
    REQUIRE(r.pid > 0);
    pids.push_back(r.pid);
    watch_exec(io, r.exec_report_fd, [&](int err, const std::string& step) {
      CHECK(err == ENOENT);
      CHECK(step == "exec");
      ++reports;
    }, nullptr, std::move(r.child_memory));
  }
  ::close(out);
  io.run();
  CHECK(reports == 50);
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("status " << status);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 127);
  }
}

}  // namespace pmx::daemon
