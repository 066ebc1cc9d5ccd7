// `pmx update` replaces a running pmxd with the binary now installed. The daemon
// execs it with its own pid: the apps keep their pids and restart counters, a cluster app's
// port never closes, no numbered log line is lost or repeated, and exits are still known.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

json ping(const TempHome& home) {
  auto r = run_pmx(home.path(), {"ping"});
  INFO(r);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("pmx update execs the installed pmxd in place: same pids, port open, no log line lost",
          "[integration]") {
  REQUIRE(have_python());
  Session s;
  // "The binary now installed": a copy of pmxd (and its Node preload) in another folder.
  namespace fs = std::filesystem;
  const std::string installed = s.home.scratch("installed");
  fs::create_directories(installed);
  fs::copy_file(bin::kPmxd, installed + "/pmxd");
  const std::string preload = fs::path(bin::kPmxd).parent_path().string() + "/pmx-node-preload.js";
  if (fs::exists(preload)) fs::copy_file(preload, installed + "/pmx-node-preload.js");
  const std::string new_pmxd = fs::canonical(installed + "/pmxd").string();

  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick"}), 0);
  const int port = free_port();
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port)})), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  const std::string log = s.home.path() + "/logs/tick-out.log";
  REQUIRE(wait_until([&] { return ticks(log).size() >= 5; }, 10s));
  const json before = s.jlist();
  const json pong = ping(s.home);
  CHECK(pong.value("pid", 0) == s.daemon.pid());
  CHECK(pong.value("exe", "") == fs::canonical(bin::kPmxd).string());

  RunOptions with_new;
  with_new.env = {{"PMXD", new_pmxd}};
  auto updated = s.pmx({"update"}, with_new);
  REQUIRE_EXIT(updated, 0);
  CHECK(updated.out.find("now runs " + new_pmxd) != std::string::npos);

  const json after_pong = ping(s.home);
  CHECK(after_pong.value("pid", 0) == s.daemon.pid());
  CHECK(after_pong.value("exe", "") == new_pmxd);
  const json after = s.jlist();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    INFO(before[i].value("name", "") << ":" << before[i].value("pm_id", -1));
    CHECK(after[i].value("pid", 0) == before[i].value("pid", 0));
    CHECK(after[i]["pm2_env"].value("restart_time", -1) == before[i]["pm2_env"].value("restart_time", -2));
    CHECK(after[i]["pm2_env"].value("status", "") == "online");
  }
  CHECK_FALSE(port_is_free(port));
  CHECK(http_get(port));

  // Exits are still pmxd's to see, with their status: the instances are still its children.
  const pid_t quiet = s.app("quiet")["pid"].get<pid_t>();
  REQUIRE(::kill(quiet, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return s.app("quiet")["pm2_env"].value("restart_time", 0) == 1; }, 10s));
  CHECK(s.app("quiet")["pm2_env"].value("exit_signal", "") == "SIGKILL");

  const std::size_t seen = ticks(log).size();
  REQUIRE(wait_until([&] { return ticks(log).size() >= seen + 5; }, 10s));
  REQUIRE_EXIT(s.pmx({"stop", "tick"}), 0);
  const auto numbers = ticks(log);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    INFO("line " << i + 1 << " of " << log);
    REQUIRE(numbers[i] == static_cast<long>(i) + 1);
  }
}

TEST_CASE("pmx update refuses a binary that cannot run, and the daemon goes on", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  RunOptions missing;
  missing.env = {{"PMXD", s.home.scratch("no-such-pmxd")}};
  auto r = s.pmx({"update"}, missing);
  REQUIRE_EXIT(r, 2);
  CHECK(r.err.find("no-such-pmxd") != std::string::npos);
  CHECK(ping(s.home).value("pid", 0) == s.daemon.pid());
  CHECK(s.status("quiet") == "online");
}

namespace {

/// Writes an executable shell script at path.
void write_script(const std::string& path, const std::string& body) {
  {
    std::ofstream out(path);
    out << "#!/bin/sh\n" << body << "\n";
  }
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

}  // namespace

TEST_CASE("pmx update refuses a binary that is not a pmxd of this protocol, and the daemon goes on",
          "[integration][regression]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  const pid_t app_pid = s.app("quiet")["pid"].get<pid_t>();
  // A program that runs fine but is no pmxd, one that says it is one of another protocol, and
  // one that says nothing.
  const std::string not_pmxd = s.home.scratch("not-pmxd");
  write_script(not_pmxd, "echo hello; exit 0");
  const std::string other = s.home.scratch("pmxd-v99");
  write_script(other, "echo pmxd-protocol 99");
  for (const std::string& binary : {not_pmxd, other, std::string("/bin/true")}) {
    RunOptions with;
    with.env = {{"PMXD", binary}};
    auto r = s.pmx({"update"}, with);
    INFO(binary << ": " << r);
    CHECK(r.exit_code == 2);
    CHECK(mentions(r.err, "update refused"));
    CHECK(ping(s.home).value("pid", 0) == s.daemon.pid());
    CHECK(s.app("quiet")["pid"].get<pid_t>() == app_pid);
    CHECK(s.status("quiet") == "online");
  }
  RunOptions with_other;
  with_other.env = {{"PMXD", other}};
  auto r = s.pmx({"update"}, with_other);
  CHECK(mentions(r.err, "protocol 99"));
  // And pmxd tells its own.
  auto own = run_process({bin::kPmxd, "--protocol-version"});
  CHECK_EXIT(own, 0);
  CHECK(own.out == "pmxd-protocol 1\n");
}

TEST_CASE("pmx update while other pmx calls auto-start keeps one pmxd, and its apps",
          "[integration][regression]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  const pid_t app_pid = s.app("quiet")["pid"].get<pid_t>();
  const std::string pidfile = s.home.path() + "/pmxd.pid";
  // Two shells calling pmx as fast as they can, each one auto-starting a pmxd when nothing
  // answers: during each update's exec, they try.
  const std::string loop = "while [ ! -e '" + s.home.scratch("stop") + "' ]; do '" + bin::kPmx +
                           "' ping >/dev/null 2>&1; done";
  struct Callers {
    std::vector<pid_t> pids;
    ~Callers() {  // on a failed REQUIRE too: no shell left looping
      for (pid_t pid : pids) {
        if (pid <= 0) continue;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } callers;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setenv("PMX_HOME", s.home.path().c_str(), 1);
      ::setenv("PMXD", bin::kPmxd.c_str(), 1);
      ::execl("/bin/sh", "sh", "-c", loop.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    callers.pids.push_back(pid);
  }
  for (int round = 0; round < 20; ++round) {
    auto r = s.pmx({"update"});
    INFO("round " << round << ": " << r);
    REQUIRE_EXIT(r, 0);
    REQUIRE(read_file(pidfile).value_or("") == std::to_string(s.daemon.pid()) + "\n");
    REQUIRE(s.app("quiet")["pid"].get<pid_t>() == app_pid);
  }
  std::ofstream(s.home.scratch("stop")) << "";
  for (pid_t& pid : callers.pids) {
    REQUIRE(wait_until([&] { return ::waitpid(pid, nullptr, WNOHANG) == pid; }, 20s));
    pid = -1;
  }
  CHECK(ping(s.home).value("pid", 0) == s.daemon.pid());
  CHECK(s.status("quiet") == "online");
}
