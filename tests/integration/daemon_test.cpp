// Daemon: single instance per home, auto-start, kill/SIGTERM shutdown, fd hygiene, pid and log
// files.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Starts spawn_tree (orphan mode) plus a sleeper; returns every pid they are made of.
std::vector<pid_t> start_apps(Session& s) {
  std::string file = s.home.scratch("tree.pids");
  REQUIRE_EXIT(s.pmx({"start", bin::kSpawnTree, "--name", "tree", "--kill-timeout", "500", "--",
                      file, "orphan"}),
               0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sl", "--kill-timeout", "500"}), 0);
  REQUIRE(wait_until([&] { return read_pids(file).size() == 3; }, 10s));
  auto pids = read_pids(file);
  pid_t sl = s.wait_pid("sl");
  REQUIRE(sl > 0);
  pids.push_back(sl);
  for (pid_t p : pids) s.track(p);
  REQUIRE(process_alive(pids[2]));
  return pids;
}

std::string alive_list(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids)
    if (process_alive(p)) out += std::to_string(p) + " ";
  return out;
}

}  // namespace

TEST_CASE("a second pmxd for the same home refuses with 'already running'",
          "[integration][daemon]") {
  Session s;
  for (bool foreground : {true, false}) {
    std::vector<std::string> argv{bin::kPmxd};
    if (foreground) argv.push_back("--foreground");
    RunOptions opts;
    opts.env = {{"PMX_HOME", s.home.path()}};
    opts.timeout = 10s;
    auto r = run_process(argv, opts);
    INFO(r);
    CHECK(r.exit_code != 0);
    CHECK_FALSE(r.timed_out);
    CHECK(lower(r.out + r.err).find("already running") != std::string::npos);
  }
  // The first daemon is unharmed.
  CHECK_EXIT(s.pmx({"ping"}), 0);
  CHECK_FALSE(s.daemon.wait_exit(0ms));
}

TEST_CASE("apps inherit no fd from the daemon: only 0, 1, 2", "[integration][daemon]") {
  Session s;
  // Give the daemon more to leak: another app's pipes and a client connection held open.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "other", "--kill-timeout", "500"}), 0);
  REQUIRE(s.wait_pid("other") > 0);
  RawClient held;
  REQUIRE(held.connect(s.home.socket()));

  std::string file = s.home.scratch("fds.txt");
  REQUIRE_EXIT(s.pmx({"start", bin::kFdLister, "--name", "fds", "--", file}), 0);
  REQUIRE(wait_until([&] { return file_exists(file); }, 10s));
  auto fds = read_lines(file);
  std::sort(fds.begin(), fds.end());
  std::string shown;
  for (const auto& fd : fds) shown += fd + " ";
  INFO("fds of the app: " << shown);
  CHECK(fds == std::vector<std::string>{"0", "1", "2"});

  // And after a restart, when the daemon holds even more.
  REQUIRE(std::remove(file.c_str()) == 0);
  REQUIRE_EXIT(s.pmx({"restart", "fds"}), 0);
  REQUIRE(wait_until([&] { return file_exists(file); }, 10s));
  fds = read_lines(file);
  std::sort(fds.begin(), fds.end());
  CHECK(fds == std::vector<std::string>{"0", "1", "2"});
}

TEST_CASE("pmx kill stops every app and the daemon exits", "[integration][daemon]") {
  Session s;
  auto pids = start_apps(s);
  REQUIRE_EXIT(s.pmx({"kill"}), 0);
  auto code = s.daemon.wait_exit(10s);
  REQUIRE(code);
  CHECK(*code == 0);
  bool gone = wait_until([&] { return alive_list(pids).empty(); }, 500ms);
  INFO("still alive after pmx kill: " << alive_list(pids));
  CHECK(gone);
  // Nothing answers any more.
  RawClient c;
  CHECK_FALSE(c.connect(s.home.socket()));
}

TEST_CASE("SIGTERM to pmxd stops every app and it exits 0", "[integration][daemon]") {
  Session s;
  auto pids = start_apps(s);
  REQUIRE(kill(s.daemon.pid(), SIGTERM) == 0);
  auto code = s.daemon.wait_exit(10s);
  REQUIRE(code);
  CHECK(*code == 0);
  bool gone = wait_until([&] { return alive_list(pids).empty(); }, 500ms);
  INFO("still alive after SIGTERM to pmxd: " << alive_list(pids));
  CHECK(gone);
}

TEST_CASE("SIGUSR1 to pmxd, as logrotate configurations send it, reopens the log files like SIGUSR2 and pmxd serves on",
          "[integration][daemon][regression]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick", "--kill-timeout", "500", "--", "20"}), 0);
  const std::string log = s.home.path() + "/logs/tick-out.log";
  REQUIRE(wait_until([&] { return !read_lines(log).empty(); }, 10s));
  // logrotate's way: the file moved away, then the signal.
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  REQUIRE(kill(s.daemon.pid(), SIGUSR1) == 0);
  CHECK(wait_until([&] { return mentions(read_file(s.home.daemon_log()).value_or(""), "received SIGUSR1, reopening the log files"); },
                   10s));
  CHECK(wait_until([&] { return !read_lines(log).empty(); }, 10s));
  s.daemon.poll_exit();
  CHECK_FALSE(s.daemon.exited());
  CHECK_EXIT(s.pmx({"ping"}), 0);
  CHECK(s.status("tick") == "online");
  // SIGUSR2, PM2's, does the same.
  REQUIRE(kill(s.daemon.pid(), SIGUSR2) == 0);
  CHECK(wait_until([&] { return mentions(read_file(s.home.daemon_log()).value_or(""), "received SIGUSR2, reopening the log files"); },
                   10s));
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("pmx auto-starts pmxd when nothing answers", "[integration][daemon]") {
  TempHome home;
  AutostartedDaemonGuard guard{home};
  auto r = run_pmx(home.path(), {"ping"});
  CHECK_EXIT(r, 0);
  auto pidfile = read_file(home.path() + "/pmxd.pid");
  REQUIRE(pidfile);
  pid_t pid = static_cast<pid_t>(std::atoi(pidfile->c_str()));
  CHECK(process_alive(pid));
  // A second call talks to the same daemon.
  CHECK_EXIT(run_pmx(home.path(), {"list"}), 0);
  CHECK(read_file(home.path() + "/pmxd.pid") == pidfile);
  // And it serves apps.
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "auto",
                                     "--kill-timeout", "500"}),
               0);
  REQUIRE_EXIT(run_pmx(home.path(), {"kill"}), 0);
  CHECK(wait_until([&] { return !process_alive(pid); }, 10s));
}

TEST_CASE("the first pmx call right after pmxd is killed -9 starts a new pmxd instead of exiting 3",
          "[integration][daemon][regression]") {
  TempHome home;
  AutostartedDaemonGuard guard{home};
  REQUIRE_EXIT(run_pmx(home.path(), {"ping"}), 0);
  for (int round = 0; round < 20; ++round) {
    auto pidfile = read_file(home.path() + "/pmxd.pid");
    REQUIRE(pidfile);
    const pid_t pid = static_cast<pid_t>(std::atoi(pidfile->c_str()));
    REQUIRE(pid > 0);
    REQUIRE(kill(pid, SIGKILL) == 0);
    // At once: the dying pmxd may still hold its lock, or take the connection into its backlog.
    auto r = run_pmx(home.path(), {"list"});
    INFO("round " << round << ": " << r);
    REQUIRE_EXIT(r, 0);
    REQUIRE(wait_until([&] { return !process_alive(pid); }, 5s));
  }
}

TEST_CASE("pmx exits 3 when the daemon cannot be started", "[integration][daemon]") {
  TempHome home;
  AutostartedDaemonGuard guard{home};
  RunOptions opts;
  opts.env = {{"PMXD", "/nonexistent/pmxd"}};
  for (std::string verb : {"list", "ping", "jlist"}) {
    auto r = run_pmx(home.path(), {verb}, opts);
    INFO(r);
    CHECK(r.exit_code == 3);
    CHECK_FALSE(r.timed_out);
    auto err = lower(r.err);
    CHECK((err.find("daemon") != std::string::npos || err.find("pmxd") != std::string::npos));
  }
}

TEST_CASE("the pid file holds the app's pid and is removed after stop", "[integration][daemon]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "pf", "--kill-timeout", "500"}), 0);
  pid_t pid = s.wait_pid("pf");
  REQUIRE(pid > 0);
  auto app = s.app("pf");
  std::string expected = s.home.path() + "/pids/pf-" + std::to_string(app["pm_id"].get<int>()) +
                         ".pid";
  CHECK(app["pm2_env"]["pm_pid_path"] == expected);
  REQUIRE(wait_until([&] { return file_exists(expected); }, 5s));
  auto content = read_file(expected).value_or("");
  CHECK(std::atoi(content.c_str()) == pid);

  REQUIRE_EXIT(s.pmx({"stop", "pf"}), 0);
  CHECK_FALSE(file_exists(expected));

  // Restarted: a fresh pid file with the new pid.
  REQUIRE_EXIT(s.pmx({"restart", "pf"}), 0);
  pid_t again = s.wait_pid("pf");
  REQUIRE(again > 0);
  REQUIRE(wait_until([&] { return std::atoi(read_file(expected).value_or("0").c_str()) == again; },
                     5s));
}

TEST_CASE("stdout and stderr lines land in the app's log files", "[integration][daemon]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "lines", "--kill-timeout", "500", "--",
                      "50"}),
               0);
  auto app = s.app("lines");
  std::string out = s.home.path() + "/logs/lines-out.log";
  std::string err = s.home.path() + "/logs/lines-error.log";
  CHECK(app["pm2_env"]["pm_out_log_path"] == out);
  CHECK(app["pm2_env"]["pm_err_log_path"] == err);

  // Every line, in order (the log may hold other lines, e.g. from a previous run).
  auto has_all = [](const std::string& path, const std::string& prefix) {
    auto lines = read_lines(path);
    std::size_t next = 1;
    for (const auto& line : lines)
      if (next <= 50 && line == prefix + std::to_string(next)) ++next;
    return next == 51;
  };
  bool ok_out = wait_until([&] { return has_all(out, "out "); }, 10s);
  bool ok_err = wait_until([&] { return has_all(err, "err "); }, 10s);
  INFO("out log:\n" << read_file(out).value_or("(missing)"));
  INFO("error log:\n" << read_file(err).value_or("(missing)"));
  CHECK(ok_out);
  CHECK(ok_err);
  // Streams are not mixed.
  CHECK(read_file(out).value_or("").find("err ") == std::string::npos);
  CHECK(read_file(err).value_or("").find("out ") == std::string::npos);
}

namespace {

/// Open fds of pid: every one, or (sockets false) those that are not sockets. A client's
/// connection closes in pmxd a moment after the client exits, so sockets are counted apart.
std::size_t open_fds(pid_t pid, bool sockets = true) {
  std::size_t n = 0;
  for (const std::string& target : open_fd_targets(pid)) n += sockets || target.rfind("socket:", 0) != 0;
  return n;
}

/// Children of pid that are zombies (exited, not reaped).
std::vector<pid_t> zombie_children(pid_t parent) {
  std::vector<pid_t> zombies;
  DIR* d = opendir("/proc");
  if (!d) return zombies;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) continue;
    auto rparen = stat->rfind(')');
    if (rparen == std::string::npos || rparen + 4 > stat->size()) continue;
    char state = (*stat)[rparen + 2];
    pid_t ppid = static_cast<pid_t>(std::atoi(stat->c_str() + rparen + 4));
    if (state == 'Z' && ppid == parent) zombies.push_back(pid);
  }
  closedir(d);
  return zombies;
}

}  // namespace

TEST_CASE("start, crash, restart and delete cycles leak no fd and leave no zombie",
          "[integration][daemon]") {
  Session s;
  const pid_t daemon = s.daemon.pid();
  // Warm up once so that lazily opened files (the log) are counted in the baseline.
  REQUIRE_EXIT(s.pmx({"ping"}), 0);
  const std::size_t baseline = open_fds(daemon, false);
  REQUIRE(baseline > 0);
  // With no client connected, pmxd's sockets are its two own: the control socket's listener
  // and the sd_notify socket.
  constexpr std::size_t kOwnSockets = 2;
  REQUIRE(wait_until([&] { return open_fds(daemon) - open_fds(daemon, false) == kOwnSockets; }, 5s));

  for (int round = 0; round < 5; ++round) {
    std::string file = s.home.scratch("tree" + std::to_string(round) + ".pids");
    REQUIRE_EXIT(s.pmx({"start", bin::kSpawnTree, "--name", "tree", "--kill-timeout", "300", "--",
                        file, "orphan"}),
                 0);
    REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "crash", "--max-restarts", "3",
                        "--min-uptime", "5s", "--", "10", "1"}),
                 0);
    REQUIRE(wait_until([&] { return read_pids(file).size() == 3; }, 10s));
    for (pid_t p : read_pids(file)) s.track(p);
    REQUIRE(s.wait_status("crash", "errored", 10s));
    REQUIRE_EXIT(s.pmx({"restart", "tree"}), 0);
    REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  }
  // Every pipe, socket, timer and cgroup handle of those runs is closed again.
  CHECK(wait_until([&] { return open_fds(daemon, false) == baseline && open_fds(daemon) == baseline + kOwnSockets; }, 5s));
  INFO("fds now " << open_fds(daemon, false) << " and " << open_fds(daemon) - open_fds(daemon, false)
                  << " socket(s), baseline " << baseline << " and pmxd's own sockets");
  CHECK(open_fds(daemon, false) == baseline);
  CHECK(open_fds(daemon) == baseline + kOwnSockets);
  // Every exited process was reaped, orphans of the trees included.
  CHECK(wait_until([&] { return zombie_children(daemon).empty(); }, 5s));
}
