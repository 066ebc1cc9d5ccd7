// The kernel's limits of an app's cgroups (cpu_quota, memory_max, tasks_max) with the real pmxd
// and real processes on this host, whichever cgroup version holds each controller: a busy loop
// held to its quota, an allocation loop OOM-killed inside memory_max, a forker held at its task
// cap across a restart and a re-start of its file, and the refusal in fallback mode.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Starts an app with limits; false (and a warning saying the test is skipped) when pmxd says
/// this host cannot enforce them: no such controller, or no cgroups at all.
bool start_limited(Session& s, const std::vector<std::string>& args) {
  const RunResult r = s.pmx(args);
  if (r.exit_code != 0 && (mentions(r.err + r.out, "controller") || mentions(r.err + r.out, "fallback mode"))) {
    WARN("skipped: this host cannot enforce the limit: " << r.err << r.out);
    return false;
  }
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return true;
}

/// utime + stime of pid in clock ticks (fields 14 and 15 of /proc/<pid>/stat); -1 when gone.
long long cpu_ticks_of(pid_t pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return -1;
  const auto paren = text->rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text->substr(paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

/// The forker's report ("made 15 failed 25 errno 11"): made, failed, errno; all -1 until written.
struct ForkReport {
  long made = -1, failed = -1, err = -1;
};
ForkReport fork_report(const std::string& path) {
  ForkReport r;
  const auto text = read_file(path);
  if (!text) return r;
  std::istringstream in(*text);
  std::string word;
  in >> word >> r.made >> word >> r.failed >> word >> r.err;
  return r;
}

/// The cgroup v1 folder of pid in the pids hierarchy when pmx put it in one of its own ("" when
/// pids is not a v1 hierarchy here, or pid is not in a pmx folder): its mount point from
/// /proc/self/mounts, its path from /proc/<pid>/cgroup. Read only.
std::string v1_pids_folder_of(pid_t pid) {
  std::string mount;
  std::istringstream mounts(read_file("/proc/self/mounts").value_or(""));
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream f(line);
    std::string source, dir, type, options;
    if (f >> source >> dir >> type >> options && type == "cgroup" && ("," + options + ",").find(",pids,") != std::string::npos) {
      mount = dir;
    }
  }
  std::istringstream own(read_file("/proc/" + std::to_string(pid) + "/cgroup").value_or(""));
  for (std::string line; std::getline(own, line);) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (second == std::string::npos || line.substr(first + 1, second - first - 1) != "pids") continue;
    const std::string path = line.substr(second + 1);
    if (!mount.empty() && mentions(path, "/pmx-")) return mount + path;
  }
  return "";
}

json jlist_in(const TempHome& home) {
  const RunResult r = run_pmx(home.path(), {"jlist"});
  const json list = json::parse(r.out, nullptr, false);
  return list.is_array() ? list : json::array();
}

json app_named(const TempHome& home, const std::string& name) {
  for (const auto& e : jlist_in(home)) {
    if (e.value("name", "") == name) return e;
  }
  return json();
}

}  // namespace

TEST_CASE("a busy loop under cpu_quota 20% uses at most 30% of a CPU", "[integration][resource_limits]") {
  Session s;
  if (!start_limited(s, {"start", bin::kSpinner, "--name", "spin", "--cpu-quota", "20%"})) return;
  const pid_t pid = s.wait_pid("spin");
  REQUIRE(pid > 0);
  const long long hz = ::sysconf(_SC_CLK_TCK);
  const long long before = cpu_ticks_of(pid);
  const auto t0 = std::chrono::steady_clock::now();
  // A measuring window of 3 s (the quota's period is 100 ms): polled, with a deadline.
  REQUIRE(wait_until([&] { return std::chrono::steady_clock::now() - t0 >= 3s; }, 10s));
  const long long after = cpu_ticks_of(pid);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(before >= 0);
  REQUIRE(after >= before);
  const double share = static_cast<double>(after - before) / static_cast<double>(hz) / wall;
  INFO("the spinner used " << share * 100 << "% of a CPU over " << wall << " s");
  CHECK(share <= 0.30);
  CHECK(share > 0.05);  // it did run
  // jlist and describe show the quota and the time it was throttled.
  json app = s.app("spin");
  CHECK(app["pm2_env"]["cpu_quota"] == "20%");
  CHECK(wait_until([&] {
    const json t = s.app("spin")["pm2_env"]["cpu_throttled_usec"];
    return t.is_number() && t.get<long long>() > 0;
  }, 15s));
  const RunResult described = s.pmx({"describe", "spin"});
  CHECK(mentions(described.out, "cpu quota"));
  CHECK(mentions(described.out, "20%"));
  CHECK(mentions(described.out, "cpu throttled"));
}

TEST_CASE("an allocation loop under memory_max 64M is OOM-killed and its last exit reason is oom",
          "[integration][resource_limits]") {
  Session s;
  // memhog touches 100 MB/s up to 300 MB; the kernel stops it at 64 MB.
  if (!start_limited(s, {"start", bin::kMemhog, "--name", "hog", "--memory-max", "64M", "--no-autorestart", "--", "100",
                         "300"})) {
    return;
  }
  REQUIRE(wait_until([&] { return s.app("hog")["pm2_env"]["last_exit_reason"] == "oom"; }, 20s));
  const json env = s.app("hog")["pm2_env"];
  CHECK(env["exit_signal"] == "SIGKILL");
  CHECK(env["memory_max"] == 64 << 20);
  CHECK(mentions(s.pmx({"describe", "hog"}).out, "oom (SIGKILL) at "));
}

TEST_CASE("a forker under tasks_max 16 stays at the cap, across a restart, a restart and a start of its file",
          "[integration][resource_limits]") {
  Session s;
  const std::string report = s.home.scratch("forks");
  const std::string eco = s.home.scratch("eco.yaml");
  auto write_eco = [&](int tasks_max) {
    std::ofstream out(eco);
    out << "apps:\n  - name: forks\n    script: " << bin::kForker << "\n    args: [\"40\", \"" << report
        << "\"]\n    tasks_max: " << tasks_max << "\n    kill_timeout: 500\n";
  };
  write_eco(16);
  if (!start_limited(s, {"start", eco})) return;
  auto check_cap = [&](long cap) {
    REQUIRE(wait_until([&] { return fork_report(report).made >= 0; }, 15s));
    const ForkReport r = fork_report(report);
    INFO("made " << r.made << " failed " << r.failed << " errno " << r.err);
    CHECK(r.made == cap - 1);  // the forker itself is the cap's first task
    CHECK(r.failed == 40 - r.made);
    CHECK(r.err == EAGAIN);
    CHECK(wait_until([&] {
      const json t = s.app("forks")["pm2_env"]["tasks_current"];
      return t.is_number() && t.get<long>() == cap;
    }, 15s));
  };
  check_cap(16);
  CHECK(s.app("forks")["pm2_env"]["tasks_max"] == 16);

  // A restart keeps the limit.
  ::unlink(report.c_str());
  REQUIRE_EXIT(s.pmx({"restart", "forks"}), 0);
  check_cap(16);

  // A re-start of the file gives the app the file's new limit.
  write_eco(24);
  ::unlink(report.c_str());
  REQUIRE_EXIT(s.pmx({"restart", eco}), 0);
  check_cap(24);
  CHECK(s.app("forks")["pm2_env"]["tasks_max"] == 24);

  // And so does a start of the file once the app is stopped.
  REQUIRE_EXIT(s.pmx({"stop", "forks"}), 0);
  write_eco(12);
  ::unlink(report.c_str());
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  check_cap(12);
}

TEST_CASE("in fallback mode an app that asks for a limit is refused at start, naming the mode",
          "[integration][resource_limits]") {
  Session s({"--no-cgroup"});
  for (const std::vector<std::string>& limit :
       {std::vector<std::string>{"--cpu-quota", "50%"}, {"--memory-max", "64M"}, {"--tasks-max", "16"}}) {
    std::vector<std::string> args{"start", bin::kSleeper, "--name", "capped"};
    args.insert(args.end(), limit.begin(), limit.end());
    const RunResult r = s.pmx(args);
    INFO(r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK(mentions(r.err + r.out, "fallback mode"));
    CHECK_FALSE(s.find_app("capped"));
  }
  // Without a limit the same app starts, and pmxd still serves.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "free"}), 0);
  CHECK(s.wait_pid("free") > 0);
}

TEST_CASE("a bad limit on the command line is refused with the option named", "[integration][resource_limits]") {
  Session s;
  const RunResult r = s.pmx({"start", bin::kSleeper, "--name", "bad", "--cpu-quota", "0.5"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(mentions(r.err, "cpu_quota"));
  CHECK(mentions(r.err, "100% = one CPU"));
  CHECK_FALSE(s.find_app("bad"));
}

TEST_CASE("after a pmxd crash the next pmxd finds a run's v1 cgroups by name, and none is left behind",
          "[integration][resource_limits][regression]") {
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home);
  const std::string report = home.scratch("forks");
  const RunResult started = run_pmx(home.path(), {"start", bin::kForker, "--name", "forks", "--tasks-max", "8",
                                                  "--kill-timeout", "500", "--", "20", report});
  if (started.exit_code != 0 && (mentions(started.err, "controller") || mentions(started.err, "fallback mode"))) {
    WARN("skipped: this host cannot enforce tasks_max: " << started.err);
    return;
  }
  REQUIRE_EXIT(started, 0);
  REQUIRE(wait_until([&] { return fork_report(report).made >= 0; }, 15s));
  CHECK(fork_report(report).made == 7);
  const pid_t leader = app_named(home, "forks")["pid"].get<pid_t>();
  const std::string folder = v1_pids_folder_of(leader);
  if (folder.empty()) WARN("pids is not a cgroup v1 hierarchy here: only the v2 side is checked");

  // The run outlives its pmxd; the next one adopts it and still reads its limit by name.
  first->crash();
  {
    DaemonProcess second(home);
    CHECK(app_named(home, "forks")["pid"] == leader);
    CHECK(wait_until([&] {
      const json t = app_named(home, "forks")["pm2_env"]["tasks_current"];
      return t.is_number() && t.get<long>() == 8;
    }, 15s));
    if (!folder.empty()) CHECK(std::filesystem::is_directory(folder));

    // Crashed again, and this time the run dies with no pmxd to see it: its cgroups are stale.
    second.crash();
  }
  if (!folder.empty()) {
    std::istringstream procs(read_file(folder + "/cgroup.procs").value_or(""));
    std::vector<pid_t> killed;
    for (pid_t pid; procs >> pid;) {
      ::kill(pid, SIGKILL);
      killed.push_back(pid);
    }
    REQUIRE(wait_until([&] { return read_file(folder + "/cgroup.procs").value_or("x").empty(); }, 10s));
    // Reaped too (by init: their pmxd is gone): a v1 cgroup whose dead tasks are not yet reaped
    // cannot be removed (EBUSY), and the next pmxd would find it busy, as it would an adopted run's.
    REQUIRE(wait_until([&] {
      return std::all_of(killed.begin(), killed.end(), [](pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; });
    }, 10s));
  } else {
    ::kill(leader, SIGKILL);
  }
  ::unlink(report.c_str());
  {
    DaemonProcess third(home);
    // The stale folder goes as the new pmxd comes up; the app runs again, under its limit.
    if (!folder.empty()) CHECK(wait_until([&] { return !std::filesystem::exists(folder); }, 10s));
    REQUIRE(wait_until([&] { return fork_report(report).made >= 0; }, 15s));
    CHECK(fork_report(report).made == 7);
    const std::string fresh = v1_pids_folder_of(app_named(home, "forks")["pid"].get<pid_t>());
    REQUIRE_EXIT(run_pmx(home.path(), {"delete", "forks"}), 0);
    if (!fresh.empty()) {
      CHECK(fresh != folder);
      CHECK(wait_until([&] { return !std::filesystem::exists(fresh); }, 10s));
    }
  }
  // pmxd's own v1 folder goes with it.
  if (!folder.empty()) CHECK_FALSE(std::filesystem::exists(std::filesystem::path(folder).parent_path()));
}
