// pmx-runtime: one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGQUIT), the follow
// connection to pmxd (events and every app's output) and pmxd's stderr. pmxd runs as a child
// with the home's standard socket, so `pmx list`, `pmx logs`, `pmx reload` work from another
// shell. The apps are started by a forked child running `pmx start <args>` (the CLI's own code
// path), while this loop already prints their output. As PID 1 it reaps every orphan that
// reaches it; pmxd is a child subreaper, so the apps' own orphans go to pmxd, not here.
#include "cli/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/autostart.hpp"
#include "cli/close_fds.hpp"
#include "cli/commands.hpp"
#include "cli/logs.hpp"
#include "config/app_spec.hpp"
#include "config/paths.hpp"
#include "ipc/client.hpp"

namespace pmx::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsageText =
    "usage: pmx-runtime [--json | --raw] [--no-auto-exit] <ecosystem file | script> [pmx start options] [-- args]\n"
    "\n"
    "Runs pmxd in the foreground (PMX_HOME, or ~/.pmx), starts the apps as `pmx start` does, and\n"
    "prints their output: stdout lines on stdout, stderr lines on stderr, each as `<name>| <line>`.\n"
    "\n"
    "  --json          one JSON object per line: message, timestamp, type (out/err), process_id, app_name\n"
    "  --raw           the lines alone, without the name\n"
    "  --no-auto-exit  keep running when every app has ended (stopped or errored)\n"
    "  -h, --help      this text;  -v, --version  the version\n"
    "\n"
    "SIGTERM, SIGINT and SIGQUIT stop every app (each within its kill_timeout), then pmx-runtime exits\n"
    "0, or 137 when an app had to be killed. When every app has ended on its own it exits with the\n"
    "code of the first that failed (128+n if killed by signal n), 0 if none did. A failed start exits\n"
    "with pmx's code (2 usage or configuration, 3 pmxd unreachable).\n";

/// How long pmxd may take to answer on its socket after it was started.
constexpr auto kDaemonStartDeadline = std::chrono::seconds(10);
/// The wait for pmxd's answer to a `list`.
constexpr std::chrono::milliseconds kListTimeout{10'000};
/// How long the output pmxd sent before it exited is still read once it is gone.
constexpr auto kDrainDeadline = std::chrono::seconds(2);

/// The exit code a wait status stands for, as a shell gives it: the code, or 128+n.
int code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

/// Writes all of text to fd; a reader that is gone (EPIPE) drops the text.
void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

void say(const std::string& text) { write_all(STDERR_FILENO, "pmx-runtime: " + text + "\n"); }

/// In a forked child: the signals this process blocks (for its signalfd) unblocked again.
void restore_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
}

std::optional<RuntimeOptions> parse(int argc, char** argv, int& exit_code) {
  RuntimeOptions o;
  bool app_args = false;  // after "--" every word is the app's
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!app_args) {
      if (word == "--") {
        app_args = true;
      } else if (word == "--json" || word == "--raw") {
        const auto format = word == "--json" ? RuntimeFormat::Json : RuntimeFormat::Raw;
        if (o.format != RuntimeFormat::Prefixed && o.format != format) {
          std::cerr << "pmx-runtime: --json and --raw exclude each other\n";
          exit_code = kUsage;
          return std::nullopt;
        }
        o.format = format;
        continue;
      } else if (word == "--no-auto-exit") {
        o.auto_exit = false;
        continue;
      } else if (word == "-h" || word == "--help") {
        std::cout << kUsageText;
        exit_code = kOk;
        return std::nullopt;
      } else if (word == "-v" || word == "--version") {
        std::cout << PMX_VERSION << "\n";
        exit_code = kOk;
        return std::nullopt;
      }
    }
    o.start_args.push_back(word);
  }
  return o;
}

class Runtime {
 public:
  explicit Runtime(RuntimeOptions o) : options_(std::move(o)), paths_(config::Paths::from_environment()) {}

  int run();

 private:
  void start_daemon();
  void start_apps();
  void on_signals();
  void on_child(pid_t pid, int status);
  void on_note(const json& note);
  void print(const LogLine& line);
  void read_daemon_stderr();
  void check_ended();
  void stop_daemon();
  int final_code() const;

  RuntimeOptions options_;
  config::Paths paths_;
  ipc::Client client_;
  int signal_fd_ = -1;
  int daemon_err_ = -1;  ///< pmxd's stderr; its warnings and errors are passed on
  std::string daemon_err_line_;
  pid_t daemon_pid_ = -1;
  pid_t starter_pid_ = -1;
  std::optional<int> daemon_status_;
  std::optional<int> start_code_;
  std::optional<int> ended_code_;  ///< every app ended (or the start failed): the code to exit with
  bool stopping_ = false;          ///< pmxd was asked to stop every app and exit
  std::set<int> killed_;           ///< instances SIGKILLed after kill_timeout while stopping
};

void Runtime::start_daemon() {
  const std::string bin = daemon_binary();
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) throw Unreachable(std::string("pipe: ") + std::strerror(errno));
  daemon_pid_ = ::fork();
  if (daemon_pid_ < 0) throw Unreachable(std::string("fork: ") + std::strerror(errno));
  if (daemon_pid_ == 0) {
    restore_signals();
    // Its own session: a Ctrl-C on the terminal reaches pmx-runtime alone, which stops the apps
    // once, through pmxd.
    ::setsid();
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    ::dup2(err[1], 2);
    close_fds_from(3);
    ::execl(bin.c_str(), bin.c_str(), "--foreground", static_cast<char*>(nullptr));
    const std::string msg = "cannot run " + bin + ": " + std::strerror(errno) + "\n";
    write_all(2, msg);
    ::_exit(127);
  }
  ::close(err[1]);
  daemon_err_ = err[0];
  ::fcntl(daemon_err_, F_SETFL, ::fcntl(daemon_err_, F_GETFL) | O_NONBLOCK);

  const auto deadline = Clock::now() + kDaemonStartDeadline;
  for (;;) {
    if (!client_.connect(paths_.socket())) return;
    int status = 0;
    if (::waitpid(daemon_pid_, &status, WNOHANG) == daemon_pid_) {
      daemon_status_ = status;
      read_daemon_stderr();
      throw Unreachable("pmxd (" + bin + ") exited with code " + std::to_string(code_of(status)) +
                        " before answering on " + paths_.socket());
    }
    if (Clock::now() > deadline) {
      ::kill(daemon_pid_, SIGKILL);
      throw Unreachable("pmxd (" + bin + ") does not answer on " + paths_.socket());
    }
    read_daemon_stderr();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Runtime::start_apps() {
  // The apps' output is followed before they start: none of their first lines is missed.
  client_.set_timeout(kListTimeout);
  for (const auto& [method, params] :
       {std::pair<const char*, json>{"subscribe", {{"topics", json::array({"events"})}}},
        std::pair<const char*, json>{"logs", {{"targets", json::array({"all"})}, {"lines", 0}, {"follow", true}}}}) {
    if (auto r = client_.call(method, params); r.error) throw Unreachable(std::string(method) + ": " + r.error->message);
  }
  starter_pid_ = ::fork();
  if (starter_pid_ < 0) throw Unreachable(std::string("fork: ") + std::strerror(errno));
  if (starter_pid_ == 0) {
    restore_signals();
    // What `pmx start` prints (the table, warnings) is pmx-runtime's to say: on stderr, so that
    // stdout carries only the apps' stdout.
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    ::close(signal_fd_);
    ::close(daemon_err_);
    std::vector<std::string> words = {"pmx", "start"};
    words.insert(words.end(), options_.start_args.begin(), options_.start_args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    const int code = cli::run(static_cast<int>(words.size()), argv.data());
    std::cout.flush();
    std::cerr.flush();
    ::_exit(code);
  }
}

void Runtime::print(const LogLine& line) {
  std::string text;
  if (options_.format == RuntimeFormat::Prefixed) {
    text = line.name + "| " + line.text + "\n";
  } else {
    LogsOptions o;
    o.raw = options_.format == RuntimeFormat::Raw;
    o.json = options_.format == RuntimeFormat::Json;
    text = format_log_line(line, o);
  }
  write_all(line.err ? STDERR_FILENO : STDOUT_FILENO, text);
}

void Runtime::on_note(const json& note) {
  const std::string method = note.value("method", "");
  const json& params = note.contains("params") ? note["params"] : json::object();
  if (method == "log") {
    for (const LogLine& line : log_lines(params)) print(line);
  } else if (method == "dropped") {
    if (const auto lines = params.value("lines", std::uint64_t{0}); lines > 0) {
      say(std::to_string(lines) + " lines of the apps' output skipped (pmx-runtime read them too slowly)");
    }
  } else if (method == "instance.state") {
    const int id = params.value("pm_id", -1);
    const std::string to = params.value("to", "");
    if (params.value("event", "") == "kill_timeout" && params.value("from", "") == "stopping") killed_.insert(id);
    if (to == "launching" || to == "online") killed_.erase(id);
    if (to == "stopped" || to == "errored") check_ended();
  }
}

void Runtime::read_daemon_stderr() {
  if (daemon_err_ < 0) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(daemon_err_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        ::close(daemon_err_);
        daemon_err_ = -1;
      }
      return;
    }
    daemon_err_line_.append(buf, static_cast<std::size_t>(n));
    for (auto nl = daemon_err_line_.find('\n'); nl != std::string::npos; nl = daemon_err_line_.find('\n')) {
      const std::string line = daemon_err_line_.substr(0, nl);
      daemon_err_line_.erase(0, nl + 1);
      // pmxd logs "<date> <time> <level> <text>" (pmx.log has every line): the info lines stay
      // there, warnings and errors are shown.
      const bool info = line.find(" info ") != std::string::npos && line.find(" info ") < 26;
      if (!info) write_all(STDERR_FILENO, "pmxd| " + line + "\n");
    }
  }
}

void Runtime::on_child(pid_t pid, int status) {
  if (pid == daemon_pid_) {
    daemon_status_ = status;
  } else if (pid == starter_pid_) {
    start_code_ = code_of(status);
    // Stopping already (a SIGTERM during the start): the starter was ended too, its code says
    // nothing. Otherwise a usage or configuration error, or no pmxd: nothing runs that could
    // be waited for.
    if (stopping_) return;
    if (*start_code_ != kOk && *start_code_ != kFailed) {
      ended_code_ = *start_code_;
      stop_daemon();
    } else {
      check_ended();
    }
  }
  // Any other pid is an orphan that came to this process (PID 1): reaped, nothing more.
}

void Runtime::on_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (info.ssi_signo == SIGCHLD) continue;  // reaped below, whatever the count
    if (!stopping_) say("received " + config::signal_name(static_cast<int>(info.ssi_signo)) + ", stopping every app");
    stop_daemon();
  }
  // Signals coalesce: reap until nothing is left (tini's reap_zombies).
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    on_child(pid, status);
  }
}

void Runtime::check_ended() {
  if (!options_.auto_exit || stopping_ || !start_code_ || !client_.connected()) return;
  ipc::Response r = client_.call("list");
  if (r.error) return;  // pmxd is going away: its exit ends the loop
  const json apps = r.result.value_or(json::array());
  int code = apps.empty() ? *start_code_ : kOk;
  std::string failed;
  for (const auto& app : apps) {
    const json& env = app.contains("pm2_env") ? app["pm2_env"] : json::object();
    const std::string status = env.value("status", "");
    if (status != "stopped" && status != "errored") return;
    if (code != kOk) continue;
    const json exit_code = env.value("exit_code", json());
    const json exit_signal = env.value("exit_signal", json());
    if (exit_code.is_number_integer() && exit_code.get<int>() != 0) {
      code = exit_code.get<int>();
    } else if (exit_signal.is_string()) {
      const int signo = config::signal_from_name(exit_signal.get<std::string>());
      code = 128 + (signo > 0 ? signo : 0);
    } else if (status == "errored") {
      code = kFailed;
    }
    if (code != kOk) failed = app.value("name", "?") + " (id " + std::to_string(app.value("pm_id", -1)) + ")";
  }
  ended_code_ = code;
  say(apps.empty() ? "no app is running, stopping pmxd"
                   : "every app has ended" + (failed.empty() ? std::string() : ", " + failed + " with code " + std::to_string(code)) +
                         "; stopping pmxd");
  stop_daemon();
}

void Runtime::stop_daemon() {
  if (stopping_) return;
  stopping_ = true;
  // pmxd stops every app on SIGTERM, each within its kill_timeout, as its `kill` verb does.
  if (daemon_pid_ > 0 && !daemon_status_) ::kill(daemon_pid_, SIGTERM);
  if (starter_pid_ > 0 && !start_code_) ::kill(starter_pid_, SIGTERM);
}

int Runtime::final_code() const {
  if (ended_code_) return *ended_code_;
  const int daemon_code = daemon_status_ ? code_of(*daemon_status_) : 1;
  if (daemon_code != 0) {
    say("pmxd exited with code " + std::to_string(daemon_code) + " (see " + paths_.daemon_log() + ")");
    return daemon_code;
  }
  if (!killed_.empty()) {
    say(std::to_string(killed_.size()) + " instance(s) did not stop within kill_timeout and were killed");
    return 128 + SIGKILL;
  }
  return kOk;
}

int Runtime::run() {
  // pmxd and the starter read PMX_HOME: both find the home this process chose.
  ::setenv("PMX_HOME", paths_.home.c_str(), 1);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw Unreachable(std::string("signalfd: ") + std::strerror(errno));

  {
    ipc::Client probe;
    if (!probe.connect(paths_.socket())) {
      throw Unreachable("a pmxd already answers on " + paths_.socket() +
                        "; pmx-runtime runs its own (give it another PMX_HOME)");
    }
  }
  start_daemon();
  try {
    start_apps();
  } catch (const Unreachable&) {
    stop_daemon();
    int status = 0;
    while (::waitpid(daemon_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    throw;
  }

  std::optional<Clock::time_point> drain_until;
  for (;;) {
    // Notifications kept while a call waited are not on the socket any more: print them first.
    while (client_.connected()) {
      auto note = client_.next_notification(std::chrono::milliseconds{1});
      if (!note) break;
      on_note(*note);
    }
    if (daemon_status_) {
      // pmxd is gone: what it sent before it exited is still read, then the loop ends.
      if (!drain_until) drain_until = Clock::now() + kDrainDeadline;
      if (!client_.connected() || Clock::now() > *drain_until) break;
    }
    pollfd fds[3] = {{signal_fd_, POLLIN, 0}, {client_.native_handle(), POLLIN, 0}, {daemon_err_, POLLIN, 0}};
    const int n = ::poll(fds, 3, daemon_status_ ? 50 : -1);
    if (n < 0 && errno != EINTR) throw Unreachable(std::string("poll: ") + std::strerror(errno));
    if (fds[2].revents) read_daemon_stderr();
    if (fds[0].revents) on_signals();
  }
  read_daemon_stderr();
  return final_code();
}

}  // namespace

int run_runtime(int argc, char** argv) {
  int exit_code = kOk;
  auto options = parse(argc, argv, exit_code);
  if (!options) return exit_code;
  try {
    Runtime runtime(std::move(*options));
    return runtime.run();
  } catch (const Unreachable& e) {
    say(e.what());
    return kUnreachable;
  }
}

}  // namespace pmx::cli
