// pmx-runtime (container mode): the apps' output on its own stdout and stderr
// (prefixed, --raw, --json), SIGTERM as a graceful stop (0, or 137 when an app had to be
// killed), the exit code of an app that ended for good, zombies reaped, and `pmx` from another
// shell against the same home. Run as PID 1 of a PID namespace (`unshare --pid --fork
// --mount-proc`, as in a container) and as an ordinary process.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/harness.hpp"

extern char** environ;

namespace pmx::itest {
namespace {

const std::string& kRuntime = bin::kRuntime;

/// Whether this machine lets us make a PID namespace (root, unshare(1) present).
bool can_unshare() {
  static const bool ok = [] {
    RunOptions opts;
    opts.timeout = 10s;
    return run_process({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/true"}, opts).exit_code == 0;
  }();
  return ok;
}

/// Writes an executable shell script into the home's scratch folder; returns its path.
std::string write_script(const TempHome& home, const std::string& name, const std::string& body) {
  const std::string path = home.scratch(name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  ::chmod(path.c_str(), 0755);
  return path;
}

/// The ppid and state of every process, from /proc/<pid>/stat.
std::map<pid_t, std::pair<pid_t, char>> process_table() {
  std::map<pid_t, std::pair<pid_t, char>> table;
  DIR* proc = ::opendir("/proc");
  if (!proc) return table;
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) continue;
    const auto close_paren = stat->rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat->substr(close_paren + 2));
    char state = '?';
    pid_t ppid = 0;
    rest >> state >> ppid;
    table[pid] = {ppid, state};
  }
  ::closedir(proc);
  return table;
}

/// The zombies among root and its descendants (in a PID namespace: every process in it).
int zombies_under(pid_t root) {
  const auto table = process_table();
  std::set<pid_t> tree{root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, entry] : table) {
      if (tree.count(entry.first) && tree.insert(pid).second) grew = true;
    }
  }
  int zombies = 0;
  for (pid_t pid : tree) {
    if (auto it = table.find(pid); it != table.end() && it->second.second == 'Z') ++zombies;
  }
  return zombies;
}

/// A pmx-runtime left running, in a PID namespace or not; its stdout and stderr read as they come.
class LiveRuntime {
 public:
  LiveRuntime(const TempHome& home, const std::vector<std::string>& args, bool pid_namespace,
              const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "PMX_HOME=", 9) != 0 && std::strncmp(*e, "PMXD=", 5) != 0) env_strings.emplace_back(*e);
    }
    env_strings.push_back("PMX_HOME=" + home.path());
    env_strings.push_back("PMXD=" + bin::kPmxd);
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<std::string> argv_strings;
    if (pid_namespace) argv_strings = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"};
    argv_strings.push_back(kRuntime);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      const int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
    // unshare --fork waits for its child, PID 1 of the namespace: that one is pmx-runtime.
    if (pid_namespace) {
      wait_until(
          [&] {
            auto children = read_file("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
            runtime_pid_ = children ? static_cast<pid_t>(std::atoi(children->c_str())) : 0;
            return runtime_pid_ > 0;
          },
          10s);
    } else {
      runtime_pid_ = pid_;
    }
  }
  ~LiveRuntime() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(runtime_pid_ > 0 ? runtime_pid_ : pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }

  /// pmx-runtime itself (PID 1 of the namespace, seen from here).
  pid_t runtime_pid() const { return runtime_pid_; }

  /// Reads what is there; waits until pred(stdout, stderr) holds, or timeout.
  bool wait_for(const std::function<bool(const std::string&, const std::string&)>& pred, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      pump(20);
      if (pred(out_, err_)) return true;
      if (Clock::now() > deadline) return false;
    }
  }
  bool wait_out(const std::string& text, milliseconds timeout = 15s) {
    return wait_for([&](const std::string& out, const std::string&) { return out.find(text) != std::string::npos; },
                    timeout);
  }
  bool wait_err(const std::string& text, milliseconds timeout = 15s) {
    return wait_for([&](const std::string&, const std::string& err) { return err.find(text) != std::string::npos; },
                    timeout);
  }

  /// Sends sig once pmx-runtime blocks it (it takes signals through a signalfd): before, a
  /// SIGTERM would end it (or, as PID 1 of a namespace, be dropped), as for any process just
  /// started. In a namespace, the pid is unshare's child before it execs pmx-runtime, and that
  /// child blocks SIGTERM for a moment too (unshare's own mask, until it restores it): the mask
  /// counts only once the process is pmx-runtime.
  void signal(int sig) const {
    wait_until(
        [&] {
          if (read_file("/proc/" + std::to_string(runtime_pid_) + "/comm").value_or("") != "pmx-runtime\n") return false;
          const auto status = read_file("/proc/" + std::to_string(runtime_pid_) + "/status").value_or("");
          const auto at = status.find("SigBlk:\t");
          if (at == std::string::npos) return false;
          const unsigned long long blocked = std::stoull(status.substr(at + 8, 16), nullptr, 16);
          return ((blocked >> (sig - 1)) & 1) != 0;
        },
        10s);
    ::kill(runtime_pid_, sig);
  }

  /// Waits for the exit code (the namespace's PID 1's, which unshare passes on); -1 at the deadline.
  int wait_exit(milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    while (!exit_code_) {
      pump(20);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (Clock::now() > deadline) {
        return -1;
      }
    }
    pump(0);
    return *exit_code_;
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  void pump(int wait_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    ::poll(fds, 2, wait_ms);
    char buf[65536];
    for (auto [fd, text] : {std::pair{out_fd_, &out_}, std::pair{err_fd_, &err_}}) {
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) text->append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  pid_t runtime_pid_ = 0;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_, err_;
  std::optional<int> exit_code_;
};

std::ostream& operator<<(std::ostream& os, const LiveRuntime& r) {
  return os << "stdout:\n" << r.out() << "\nstderr:\n" << r.err();
}

/// An app that says which stream is which, then stops on SIGINT or SIGTERM (marker written).
std::string write_talker(const TempHome& home) {
  return write_script(home, "talker.sh",
                      "trap 'echo \"$1\" > \"$2\"; exit 0' INT TERM\n"
                      "echo \"out of $1\"\n"
                      "echo \"err of $1\" >&2\n"
                      "while :; do sleep 0.05; done\n");
}

/// Whether to run in a PID namespace: both, unless the machine cannot make one.
bool namespace_or_skip(bool pid_namespace) {
  if (pid_namespace && !can_unshare()) {
    WARN("unshare --pid --fork --mount-proc fails here (not root?): the PID-namespace case is skipped");
    return false;
  }
  return true;
}

TEST_CASE("pmx-runtime prints a script app's stdout on stdout and stderr on stderr, prefixed <name>|",
          "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string talker = write_talker(home);
  const std::string marker = home.scratch("talker.stopped");
  LiveRuntime rt(home, {talker, "--name", "talk", "--", "talk", marker}, pid_namespace);
  REQUIRE(rt.wait_out("talk| out of talk\n"));
  REQUIRE(rt.wait_err("talk| err of talk\n"));
  CHECK(rt.out().find("err of") == std::string::npos);
  // The table `pmx start` prints is pmx-runtime's own message: on stderr, stdout stays the app's.
  CHECK(rt.out().find("│") == std::string::npos);

  // Another shell, same PMX_HOME: the same daemon answers.
  RunResult list = run_pmx(home.path(), {"jlist"});
  REQUIRE(list.exit_code == 0);
  json apps = json::parse(list.out);
  REQUIRE(apps.size() == 1);
  CHECK(apps[0]["name"] == "talk");
  CHECK(apps[0]["pm2_env"]["status"] == "online");

  rt.signal(SIGTERM);
  REQUIRE(rt.wait_exit() == 0);
  INFO(rt);
  // Stopped by its stop signal, so its trap ran: a graceful stop.
  CHECK(read_file(marker).value_or("") == "talk\n");
  CHECK_FALSE(file_exists(home.socket()));
}

TEST_CASE("pmx-runtime with an ecosystem file of two apps prefixes each app's lines with its name",
          "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string talker = write_talker(home);
  const std::string file = home.scratch("ecosystem.yaml");
  std::ofstream(file) << "apps:\n"
                      << "  - name: alpha\n    script: " << talker << "\n    args: [alpha, " << home.scratch("a.stopped") << "]\n"
                      << "  - name: beta\n    script: " << talker << "\n    args: [beta, " << home.scratch("b.stopped") << "]\n";
  LiveRuntime rt(home, {file}, pid_namespace);
  REQUIRE(rt.wait_out("alpha| out of alpha\n"));
  REQUIRE(rt.wait_out("beta| out of beta\n"));
  REQUIRE(rt.wait_err("alpha| err of alpha\n"));
  REQUIRE(rt.wait_err("beta| err of beta\n"));

  RunResult list = run_pmx(home.path(), {"list"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("alpha") != std::string::npos);
  CHECK(list.out.find("beta") != std::string::npos);

  rt.signal(SIGINT);
  REQUIRE(rt.wait_exit() == 0);
  CHECK(read_file(home.scratch("a.stopped")).value_or("") == "alpha\n");
  CHECK(read_file(home.scratch("b.stopped")).value_or("") == "beta\n");
}

TEST_CASE("pmx-runtime --json prints one JSON object per line, --raw the bare lines", "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string talker = write_talker(home);
  {
    LiveRuntime rt(home, {"--json", talker, "--name", "js", "--", "js", home.scratch("js.stopped")}, pid_namespace);
    REQUIRE(rt.wait_out("out of js"));
    REQUIRE(rt.wait_err("err of js"));
    rt.signal(SIGTERM);
    REQUIRE(rt.wait_exit() == 0);
    INFO(rt);
    std::istringstream lines(rt.out());
    std::string line;
    int parsed = 0;
    while (std::getline(lines, line)) {
      json j = json::parse(line);  // every stdout line is JSON
      CHECK(j["app_name"] == "js");
      CHECK(j["type"] == "out");
      CHECK(j["process_id"] == 0);
      CHECK(j["timestamp"].is_string());
      if (j["message"] == "out of js") ++parsed;
    }
    CHECK(parsed == 1);
    bool err_line = false;
    std::istringstream errs(rt.err());
    while (std::getline(errs, line)) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("message", "") == "err of js") err_line = j["type"] == "err";
    }
    CHECK(err_line);
  }
  {
    LiveRuntime rt(home, {"--raw", talker, "--name", "raw", "--", "raw", home.scratch("raw.stopped")}, pid_namespace);
    REQUIRE(rt.wait_out("out of raw\n"));
    REQUIRE(rt.wait_err("err of raw\n"));
    rt.signal(SIGTERM);
    REQUIRE(rt.wait_exit() == 0);
    CHECK(rt.out() == "out of raw\n");
  }
}

TEST_CASE("pmx-runtime exits 137 when an app ignoring its stop signal had to be killed after kill_timeout",
          "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string stubborn = write_script(home, "stubborn.sh",
                                            "trap '' INT TERM\n"
                                            "echo ready\n"
                                            "while :; do sleep 0.05; done\n");
  LiveRuntime rt(home, {stubborn, "--kill-timeout", "300ms"}, pid_namespace);
  REQUIRE(rt.wait_out("stubborn| ready\n"));
  rt.signal(SIGTERM);
  REQUIRE(rt.wait_exit() == 137);
  INFO(rt);
  CHECK(rt.err().find("killed") != std::string::npos);
}

TEST_CASE("pmx-runtime stopped by SIGTERM while it starts the apps exits 0, its pmxd gone", "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string talker = write_talker(home);
  LiveRuntime rt(home, {talker, "--", "early", home.scratch("early.stopped")}, pid_namespace);
  rt.signal(SIGTERM);  // whatever it is doing: starting pmxd, the apps, or already following
  const int code = rt.wait_exit();
  INFO(rt);
  REQUIRE(code == 0);
  CHECK_FALSE(file_exists(home.socket()));
}

TEST_CASE("pmx-runtime exits with the code of an app that ended for good (autorestart off)", "[integration][runtime]") {
  const bool pid_namespace = GENERATE(false, true);
  if (!namespace_or_skip(pid_namespace)) return;
  CAPTURE(pid_namespace);
  TempHome home;
  const std::string quitter = write_script(home, "quitter.sh", "echo leaving\nexit 3\n");
  LiveRuntime rt(home, {quitter, "--no-autorestart"}, pid_namespace);
  REQUIRE(rt.wait_exit() == 3);
  INFO(rt);
  CHECK(rt.out().find("quitter| leaving\n") != std::string::npos);
  CHECK_FALSE(file_exists(home.socket()));

  // Two apps: one exits 0, the other keeps running; then it ends too, with 0: pmx-runtime 0.
  const std::string done = write_script(home, "done.sh", "echo done\n");
  LiveRuntime ok(home, {done, "--no-autorestart"}, pid_namespace);
  REQUIRE(ok.wait_exit() == 0);
}

TEST_CASE("pmx-runtime exits 2 on a usage error of the start, and stops the pmxd it started", "[integration][runtime]") {
  TempHome home;
  LiveRuntime rt(home, {home.scratch("no-such-script.sh")}, false);
  const int code = rt.wait_exit();
  INFO(rt);
  CHECK(code == 2);
  CHECK(rt.err().find("script not found") != std::string::npos);
  CHECK_FALSE(file_exists(home.socket()));
}

void check_zombies_reaped(bool cgroups) {
  if (!can_unshare()) {
    WARN("unshare --pid --fork --mount-proc fails here (not root?): skipped");
    return;
  }
  TempHome home;
  // Each round leaves an orphan (the background sleep of a subshell that has exited) that
  // nobody in the app waits for.
  const std::string forker = write_script(home, "forker.sh",
                                          "trap 'exit 0' INT TERM\n"
                                          "i=0\n"
                                          "while :; do\n"
                                          "  (sleep 0.01 &)\n"
                                          "  i=$((i + 1)); [ $i = 20 ] && echo 'made 20 orphans'\n"
                                          "  sleep 0.02\n"
                                          "done\n");
  std::vector<std::string> env;
  if (!cgroups) env.push_back("PMX_NO_CGROUP=1");
  LiveRuntime rt(home, {forker}, true, env);
  REQUIRE(rt.wait_out("forker| made 20 orphans\n", 30s));
  // Orphans are made all the time; each lives as a zombie only until its reaper sees SIGCHLD.
  // Without a reaper the 20 already made would stay, and the count would never come back to 0.
  CHECK(wait_until([&] { return zombies_under(rt.runtime_pid()) == 0; }, 10s));
  int most = 0;
  const auto watch_until = Clock::now() + 1s;
  while (Clock::now() < watch_until) most = std::max(most, zombies_under(rt.runtime_pid()));
  // A busy pmxd (sanitizers, a loaded machine) may take a moment to reap: a few at once, far
  // from the 20 and more a missing reaper leaves.
  CHECK(most < 10);
  rt.signal(SIGTERM);
  REQUIRE(rt.wait_exit() == 0);
}

TEST_CASE("pmx-runtime as PID 1: an app's orphans are reaped, no zombie stays (default tracking)",
          "[integration][runtime]") {
  check_zombies_reaped(true);
}

TEST_CASE("pmx-runtime as PID 1: an app's orphans are reaped, no zombie stays (--no-cgroup)", "[integration][runtime]") {
  check_zombies_reaped(false);
}

TEST_CASE("pmx-runtime refuses a home whose pmxd already runs", "[integration][runtime]") {
  Session s;
  LiveRuntime rt(s.home, {bin::kSleeper}, false);
  CHECK(rt.wait_exit() == 3);
  INFO(rt);
  CHECK(rt.err().find("already answers") != std::string::npos);
}

}  // namespace
}  // namespace pmx::itest
