// A pmxd killed in the instant after it forked an app: the process it forked, which no state file
// records yet, must not run on as a second, unsupervised copy of the app once the next pmxd has
// adopted the instance and restarted it. (Found by the soak: a ticker's orphan kept writing into
// its app's log, and `pmx stop all` did not return.)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// The live processes whose environment carries the instance's marker (unique_id=<id>): the app's
/// processes, wherever they are in the process tree.
std::vector<pid_t> processes_marked(const std::string& unique_id) {
  const std::string marker = std::string("unique_id=") + unique_id;
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const std::string env = read_file("/proc/" + name + "/environ").value_or("");
    std::size_t at = 0;
    bool marked = false;
    while (!marked && at < env.size()) {
      const std::size_t end = std::min(env.find('\0', at), env.size());
      marked = env.compare(at, end - at, marker) == 0;
      at = end + 1;
    }
    const pid_t pid = std::stoi(name);
    if (marked && process_alive(pid)) found.push_back(pid);
  }
  return found;
}

/// The cgroup v2 folder of pid under /sys/fs/cgroup/unified or /sys/fs/cgroup, "" without one.
std::string cgroup_dir_of(pid_t pid) {
  const std::string text = read_file("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  const std::size_t at = text.find("0::");
  if (at == std::string::npos) return "";
  const std::string path = text.substr(at + 3, text.find('\n', at) - at - 3);
  for (const std::string mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (path.find("/pmx-") != std::string::npos && file_exists(mount + path + "/cgroup.procs")) return mount + path;
  }
  return "";
}

}  // namespace

// The process forked last before the kill is not yet in the state file: the next pmxd finds it
// by the marker in its environment (adopt_unrecorded_run) and adopts it, cgroup and all, instead
// of starting a second copy beside it.
TEST_CASE("a pmxd killed right after it forked an app leaves no second, unsupervised copy of the app running",
          "[integration][crash][regression][crash-timing]") {
  TempHome home;
  auto daemon = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "victim", "--max-restarts", "1000000",
                                     "--kill-timeout", "500"}),
               0);
  auto victim_pid = [&] {
    pid_t pid = 0;
    wait_until([&] {
      for (const auto& e : jlist_of(home)) {
        if (e.value("name", "") == "victim" && e["pm2_env"].value("status", "") == "online") pid = e.value("pid", 0);
      }
      return pid > 0 && process_alive(pid);
    }, 15s);
    return pid;
  };
  REQUIRE(victim_pid() > 0);
  const std::string unique_id = jlist_of(home)[0]["pm2_env"].value("unique_id", "");
  REQUIRE_FALSE(unique_id.empty());

  // Kill the app, so that pmxd restarts it at once (no restart delay), then kill pmxd a little
  // later each round: one of the rounds lands between the fork and the write of the state file.
  // The delay is the aim of the shot, not a wait for anything.
  std::vector<pid_t> copies;
  int rounds = 0;
  for (; rounds < 60 && copies.size() <= 1; ++rounds) {
    const pid_t pid = victim_pid();
    REQUIRE(pid > 0);
    ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::microseconds(250 * (rounds % 40)));
    daemon->crash();
    daemon.reset();
    // A child forked but not yet exec'd holds the home's lock and socket for a moment.
    REQUIRE(wait_until([&] { return !RawClient().connect(home.socket()); }, 10s));
    REQUIRE(wait_until([&] {
      try {
        daemon = std::make_unique<DaemonProcess>(home);
        return true;
      } catch (const std::runtime_error&) {
        return false;  // the lock was still held: that child has not exec'd yet
      }
    }, 10s));
    REQUIRE(victim_pid() > 0);
    // Given a moment, in case the new pmxd finds such a process on its own.
    wait_until([&] {
      copies = processes_marked(unique_id);
      return copies.size() <= 1;
    }, 2s);
  }
  const pid_t listed = victim_pid();
  std::string found;
  for (pid_t p : copies) found += " " + std::to_string(p) + (p == listed ? " (the one jlist shows)" : " (unknown to pmxd)");
  INFO("after " << rounds << " rounds, processes of the instance:" << found);
  const std::size_t running = copies.size();
  // Cleanup of what the check below reports: the unknown copies, then their cgroups (pmxd does
  // not know them either, and its own folder can go only when they are gone).
  std::vector<std::string> cgroups;
  for (pid_t p : copies) {
    if (p == listed) continue;
    if (const std::string dir = cgroup_dir_of(p); !dir.empty()) cgroups.push_back(dir);
    ::kill(p, SIGKILL);
  }
  CHECK(running == 1);
  daemon->shutdown();
  for (const auto& dir : cgroups) {
    wait_until([&] { return read_file(dir + "/cgroup.procs").value_or("").empty(); }, 5s);
    ::rmdir(dir.c_str());
    ::rmdir(dir.substr(0, dir.rfind('/')).c_str());  // pmxd's folder, once empty
  }
}
