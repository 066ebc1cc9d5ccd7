// Crash-only pmxd: a daemon killed with SIGKILL loses nothing. Its apps keep running
// and writing, and the next pmxd adopts them (same pids, counters and uptime), picks their
// output up with no line lost or repeated, restarts per policy those that died meanwhile, and
// can stop them all afterwards.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <regex>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Bytes waiting in a FIFO, read without draining it (FIONREAD on a read end of our own).
int fifo_pending(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) != 0) n = -1;
  close(fd);
  return n;
}

/// The state files pmxd set aside in home (state.json.corrupt-<time>).
std::vector<std::string> set_aside_states(const TempHome& home) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(home.path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("state.json.corrupt-", 0) == 0) found.push_back(entry.path().string());
  }
  return found;
}

/// Writes text as home's state.json (0600, as pmxd writes it).
void write_state(const TempHome& home, const std::string& text) {
  int fd = ::open((home.path() + "/state.json").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

json app_in(const json& list, const std::string& name) {
  for (const auto& e : list)
    if (e.value("name", "") == name) return e;
  return json();
}

}  // namespace

TEST_CASE("a pmxd killed with SIGKILL is replaced by one that adopts every app, output intact",
          "[integration]") {
  const std::vector<std::string> mode = GENERATE(std::vector<std::string>{}, std::vector<std::string>{"--no-cgroup"});
  INFO("pmxd " << (mode.empty() ? "(cgroups where available)" : mode[0]));
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home, mode);
  const std::string tree_pids = home.scratch("tree.pids");
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kTicker, "--name", "ticker"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "quiet"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSpawnTree, "--name", "tree", "--kill-timeout", "500", "--",
                                     tree_pids}),
               0);
  REQUIRE(wait_until([&] { return read_pids(tree_pids).size() == 3; }, 10s));
  const std::string log = home.path() + "/logs/ticker-out.log";
  REQUIRE(wait_until([&] { return ticks(log).size() >= 5; }, 10s));
  const json before = jlist_of(home);
  const pid_t ticker = app_in(before, "ticker")["pid"].get<pid_t>();
  const pid_t quiet = app_in(before, "quiet")["pid"].get<pid_t>();
  const pid_t tree = app_in(before, "tree")["pid"].get<pid_t>();
  const auto tree_all = read_pids(tree_pids);
  REQUIRE(ticker > 0);
  REQUIRE(quiet > 0);

  first->crash();

  // No daemon: the apps run on, and the ticker's lines wait in its FIFO.
  const std::string fifo = home.path() + "/fifos/" + std::to_string(app_in(before, "ticker")["pm_id"].get<int>()) + ".out";
  REQUIRE(wait_until([&] { return fifo_pending(fifo) >= 100; }, 10s));
  CHECK(process_alive(ticker));
  CHECK(process_alive(quiet));
  for (pid_t p : tree_all) CHECK(process_alive(p));

  DaemonProcess second(home, mode);
  const json after = jlist_of(home);
  REQUIRE(after.size() == 3);
  for (const char* name : {"ticker", "quiet", "tree"}) {
    INFO(name);
    const json a = app_in(after, name);
    const json b = app_in(before, name);
    CHECK(a["pid"] == b["pid"]);
    CHECK(a["pm_id"] == b["pm_id"]);
    CHECK(a["pm2_env"]["status"] == "online");
    CHECK(a["pm2_env"]["restart_time"] == 0);
    CHECK(a["pm2_env"]["pm_uptime"] == b["pm2_env"]["pm_uptime"]);
    CHECK(a["pm2_env"]["unique_id"] == b["pm2_env"]["unique_id"]);
  }
  // The backlog is drained and new lines follow, with no gap and no repeat.
  REQUIRE(wait_until([&] { return fifo_pending(fifo) < 64; }, 10s));
  const std::size_t seen = ticks(log).size();
  REQUIRE(wait_until([&] { return ticks(log).size() >= seen + 5; }, 10s));
  REQUIRE_EXIT(run_pmx(home.path(), {"stop", "ticker"}), 0);
  const auto numbers = ticks(log);
  REQUIRE(numbers.size() >= 10);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    INFO("line " << i + 1 << " of " << log);
    REQUIRE(numbers[i] == static_cast<long>(i) + 1);
  }

  // Nothing escapes a stop or a kill of the new daemon.
  REQUIRE_EXIT(run_pmx(home.path(), {"stop", "all"}), 0);
  CHECK(!process_alive(ticker));
  CHECK(!process_alive(quiet));
  CHECK(!process_alive(tree));
  for (pid_t p : tree_all) CHECK(!process_alive(p));
  second.shutdown();
  CHECK(!file_exists(home.path() + "/state.json"));
}

TEST_CASE("an adopted app's exit is noticed at once and handled by the restart policy",
          "[integration]") {
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "again"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "once", "--no-autorestart", "-f"}), 0);
  const json before = jlist_of(home);
  const pid_t again = app_in(before, "again")["pid"].get<pid_t>();
  const pid_t once = app_in(before, "once")["pid"].get<pid_t>();
  first->crash();
  DaemonProcess second(home);
  REQUIRE(app_in(jlist_of(home), "again")["pid"].get<pid_t>() == again);

  // Not pmxd's child any more: seen through a pidfd, exit code unknown.
  REQUIRE(kill(again, SIGKILL) == 0);
  REQUIRE(kill(once, SIGKILL) == 0);
  json now;
  REQUIRE(wait_until(
      [&] {
        now = jlist_of(home);
        const json a = app_in(now, "again");
        // The replacement has a pid from its fork on, and is online once its exec is confirmed.
        return a["pid"].get<pid_t>() > 0 && a["pid"].get<pid_t>() != again &&
               a["pm2_env"]["status"] == "online" && app_in(now, "once")["pm2_env"]["status"] == "stopped";
      },
      10s));
  const json a = app_in(now, "again");
  CHECK(a["pm2_env"]["restart_time"] == 1);
  CHECK(a["pm2_env"]["status"] == "online");
  const json o = app_in(now, "once");
  CHECK(o["pm2_env"]["exit_code"].is_null());
  CHECK(o["pm2_env"]["status_reason"].get<std::string>().find("unknown") != std::string::npos);
}

TEST_CASE("apps that died while no pmxd watched are restarted per policy, nothing twice",
          "[integration]") {
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "dies"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "lives", "-f"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "parked", "-f"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"stop", "parked"}), 0);
  const json before = jlist_of(home);
  const pid_t dies = app_in(before, "dies")["pid"].get<pid_t>();
  const pid_t lives = app_in(before, "lives")["pid"].get<pid_t>();
  first->crash();
  REQUIRE(kill(dies, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return !process_alive(dies); }, 5s));

  DaemonProcess second(home);
  json now;
  REQUIRE(wait_until(
      [&] {
        now = jlist_of(home);
        return app_in(now, "dies")["pm2_env"]["status"] == "online";
      },
      10s));
  CHECK(app_in(now, "dies")["pid"].get<pid_t>() != dies);
  CHECK(app_in(now, "dies")["pm2_env"]["restart_time"] == 1);
  CHECK(app_in(now, "lives")["pid"].get<pid_t>() == lives);
  CHECK(app_in(now, "parked")["pm2_env"]["status"] == "stopped");
  CHECK(app_in(now, "parked")["pid"] == 0);
  // One process per app: nothing was started twice.
  CHECK(now.size() == 3);
}

TEST_CASE("a state file that cannot be read is kept aside and pmxd starts empty",
          "[integration]") {
  TempHome home;
  write_state(home, "{\"version\":1,\"next_id\":");
  DaemonProcess daemon(home);
  CHECK(jlist_of(home).empty());
  CHECK(set_aside_states(home).size() == 1);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "fresh"}), 0);
  CHECK(jlist_of(home).size() == 1);
}

TEST_CASE("a state file with a field of the wrong type is set aside, logged, and pmxd starts (no abort at every start)",
          "[integration][crash_only][regression]") {
  const std::string instance =
      R"({"id":0,"spec":{"name":"a","script":"/bin/sleep"},"env_index":0,"state":"online","pid":PID,"pid_start":1})";
  for (const std::string& text :
       {std::string(R"({"version":"1","next_id":0,"envs":[],"instances":[]})"),
        std::string(R"({"version":1,"next_id":"3","envs":[{}],"instances":[]})"),
        R"({"version":1,"next_id":1,"envs":[{}],"instances":[)" +
            std::regex_replace(instance, std::regex("PID"), "\"4242\"") + "]}",
        R"({"version":1,"next_id":1,"envs":[{}],"instances":[)" +
            std::regex_replace(instance, std::regex("PID"), "1e300") + "]}"}) {
    INFO(text);
    TempHome home;
    write_state(home, text);
    DaemonProcess daemon(home);  // throws when pmxd does not come up
    CHECK(jlist_of(home).empty());
    const auto kept = set_aside_states(home);
    REQUIRE(kept.size() == 1);
    CHECK(read_file(kept[0]) == text);
    CHECK(mentions(read_file(home.daemon_log()).value_or(""), "cannot be read"));
    REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "fresh", "--kill-timeout", "500"}), 0);
    CHECK(jlist_of(home).size() == 1);
  }
}

TEST_CASE("pmx kill is a clean exit: the next pmxd adopts nothing", "[integration]") {
  TempHome home;
  {
    DaemonProcess daemon(home);
    REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "gone"}), 0);
    REQUIRE(file_exists(home.path() + "/state.json"));
  }
  CHECK(!file_exists(home.path() + "/state.json"));
  DaemonProcess again(home);
  CHECK(jlist_of(home).empty());
}
