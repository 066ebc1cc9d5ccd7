// the process layer: signals around fork, one stop signal per process, the start race
// of concurrent CLIs, credentials of a uid without a passwd entry, and the descriptors the
// autostarted daemon keeps.
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

const std::string kSigintCounter = FIXTURE_SIGINT_COUNTER;

/// Options for a pmx call that must not start a daemon when the one under test is gone.
RunOptions no_autostart() {
  RunOptions opts;
  opts.env = {{"PMXD", "/bin/false"}};
  return opts;
}

/// Live pmxd processes whose environment has PMX_HOME=home.
std::vector<pid_t> daemons_of(const std::string& home) {
  std::vector<pid_t> found;
  const std::string marker = "PMX_HOME=" + home + '\0';
  DIR* d = opendir("/proc");
  if (!d) return found;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    auto comm = read_file("/proc/" + std::to_string(pid) + "/comm").value_or("");
    if (comm != "pmxd\n" || !process_alive(pid)) continue;
    auto environ = read_file("/proc/" + std::to_string(pid) + "/environ").value_or("");
    if (environ.find(marker) != std::string::npos) found.push_back(pid);
  }
  closedir(d);
  return found;
}

/// The whitespace-separated numbers after "<key>:" in /proc/<pid>/status.
std::vector<long> status_field(pid_t pid, const std::string& key) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status").value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::vector<long> out;
    long v;
    while (fields >> v) out.push_back(v);
    return out;
  }
  return {};
}

/// Starts sigint_counter with a long kill_timeout, stops it, returns the counts of its three
/// processes (parent, the child in its group, the child that left it).
std::map<std::string, std::string> counts_after_stop(const std::vector<std::string>& daemon_args) {
  Session s(daemon_args);
  const std::string prefix = s.home.scratch("count");
  REQUIRE_EXIT(s.pmx({"start", kSigintCounter, "--name", "counter", "--kill-timeout", "20000",
                      "--", prefix}),
               0);
  REQUIRE(wait_until([&] { return read_pids(prefix + ".pids").size() == 3; }, 10s));
  for (pid_t p : read_pids(prefix + ".pids")) s.track(p);
  REQUIRE_EXIT(s.pmx({"stop", "counter"}), 0);
  CHECK(s.status("counter") == "stopped");
  std::map<std::string, std::string> counts;
  for (const char* role : {"parent", "grouped", "setsid"}) {
    REQUIRE(wait_until([&] { return file_exists(prefix + "." + role); }, 10s));
    auto text = read_file(prefix + "." + role).value_or("");
    counts[role] = text.substr(0, text.find('\n'));
  }
  return counts;
}

}  // namespace

TEST_CASE("a signal that reaches a child before its exec does not stop pmxd",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "crash", "--restart-delay", "0",
                      "--max-restarts", "1000000", "--", "-c", "exit 1"}),
               0);
  // Each round aims SIGINT at whatever the current child is: often a child between fork and
  // exec, while it is restarted without pause.
  const auto until = Clock::now() + 15s;
  int rounds = 0;
  while (Clock::now() < until && rounds < 400 && !s.daemon.exited()) {
    s.pmx({"sendSignal", "SIGINT", "crash"}, no_autostart());  // fails when no child is up then
    s.daemon.poll_exit();
    ++rounds;
  }
  INFO("rounds: " << rounds);
  CHECK_FALSE(s.daemon.exited());
  CHECK_EXIT(s.pmx({"ping"}, no_autostart()), 0);
  auto log = read_file(s.home.daemon_log()).value_or("");
  CHECK(log.find("received SIGINT") == std::string::npos);
  if (!s.daemon.exited()) REQUIRE_EXIT(s.pmx({"stop", "crash"}), 0);
}

TEST_CASE("stop signals each process of an app exactly once (cgroup tracking)",
          "[integration]") {
  auto counts = counts_after_stop({});
  CHECK(counts["parent"] == "1");
  CHECK(counts["grouped"] == "1");
  CHECK(counts["setsid"] == "1");
}

TEST_CASE("stop signals each process of an app exactly once (--no-cgroup)",
          "[integration]") {
  auto counts = counts_after_stop({"--no-cgroup"});
  CHECK(counts["parent"] == "1");
  CHECK(counts["grouped"] == "1");
  CHECK(counts["setsid"] == "1");
}

TEST_CASE("concurrent first commands all reach the one daemon that starts",
          "[integration]") {
  TempHome home;
  AutostartedDaemonGuard guard{home};
  constexpr int kClients = 20;
  std::vector<RunResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = run_pmx(home.path(), {"ping"}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK_EXIT(r, 0);
  auto daemons = daemons_of(home.path());
  CHECK(daemons.size() == 1);
}

TEST_CASE("an app run with --uid of a uid without a passwd entry runs with its own gid and no root group",
          "[integration]") {
  REQUIRE(geteuid() == 0);  // the suite runs as root
  REQUIRE(getpwuid(4242) == nullptr);
  const passwd* nobody = getpwnam("nobody");
  REQUIRE(nobody);
  // Neither user can reach the build tree when it is in a private folder (a clone under /root).
  SharedFolder shared;
  const std::string sleeper = shared.executable_for(bin::kSleeper, 4242, 4242);
  if (sleeper.empty() || !accessible_by(nobody->pw_uid, nobody->pw_gid, sleeper, X_OK)) return;
  Session s;
  REQUIRE_EXIT(s.pmx({"start", sleeper, "--name", "ghost", "--uid", "4242", "--cwd", "/",
                      "--kill-timeout", "500"}),
               0);
  pid_t pid = s.wait_pid("ghost");
  REQUIRE(pid > 0);
  CHECK(status_field(pid, "Uid") == std::vector<long>{4242, 4242, 4242, 4242});
  CHECK(status_field(pid, "Gid") == std::vector<long>{4242, 4242, 4242, 4242});
  CHECK(status_field(pid, "Groups") == std::vector<long>{4242});

  // A known user gets its primary group and the groups the group database gives it.
  const gid_t primary = nobody->pw_gid;
  std::vector<gid_t> expected(64);
  int n = static_cast<int>(expected.size());
  REQUIRE(getgrouplist("nobody", primary, expected.data(), &n) >= 0);
  std::set<long> want(expected.begin(), expected.begin() + n);
  REQUIRE_EXIT(s.pmx({"start", sleeper, "--name", "asnobody", "--uid", "nobody", "--cwd", "/", "-f",
                      "--kill-timeout", "500"}),
               0);
  pid_t other = s.wait_pid("asnobody");
  REQUIRE(other > 0);
  CHECK(status_field(other, "Gid") == std::vector<long>(4, static_cast<long>(primary)));
  auto groups = status_field(other, "Groups");
  CHECK(std::set<long>(groups.begin(), groups.end()) == want);
  CHECK(std::find(groups.begin(), groups.end(), 0L) == groups.end());
}

TEST_CASE("the autostarted pmxd keeps none of the caller's descriptors",
          "[integration]") {
  TempHome home;
  AutostartedDaemonGuard guard{home};
  const std::string marker = home.scratch("held-by-caller");
  auto r = run_process({"/bin/sh", "-c", "exec 7>\"$1\"; exec \"$2\" ping", "sh", marker, bin::kPmx},
                       RunOptions{{{"PMX_HOME", home.path()}, {"PMXD", bin::kPmxd}}, {}, 30s, {}});
  REQUIRE_EXIT(r, 0);
  auto daemons = daemons_of(home.path());
  REQUIRE(daemons.size() == 1);
  const std::string fd_dir = "/proc/" + std::to_string(daemons[0]) + "/fd";
  std::vector<std::string> held;
  DIR* d = opendir(fd_dir.c_str());
  REQUIRE(d);
  while (dirent* e = readdir(d)) {
    char target[4096];
    ssize_t n = readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<std::size_t>(n)) == marker) held.push_back(e->d_name);
  }
  closedir(d);
  INFO("fds of pmxd on " << marker << ": " << held.size());
  CHECK(held.empty());
}
