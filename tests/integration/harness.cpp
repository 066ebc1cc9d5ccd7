// Harness implementation: processes, files, sockets and deadlines for the integration tests.
// External interfaces give us TestEventListenerBase, to count failures per test.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "tests/integration/harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pmx::itest {
namespace {

namespace fs = std::filesystem;

/// Counts failed assertions, so TempHome can tell whether its test failed.
int g_failed_assertions = 0;

struct FailureCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) ++g_failed_assertions;
    return true;
  }
};

milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0ms : left;
}

// Called between fork and exec: async-signal-safe only.
void close_fds_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < max; ++fd) close(static_cast<int>(fd));
}

// Called between fork and exec: async-signal-safe only.
void reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_DFL);
  }
}

/// This process's environment with opts applied, as NAME=value strings.
std::vector<std::string> build_env(const RunOptions& opts) {
  auto overridden = [&](const std::string& entry) {
    auto name = entry.substr(0, entry.find('='));
    for (const auto& u : opts.unset)
      if (u == name) return true;
    for (const auto& [k, v] : opts.env)
      if (k == name) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (!overridden(entry)) env.push_back(entry);
  }
  for (const auto& [k, v] : opts.env) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s.find(' ') == std::string::npos ? s : "'" + s + "'";
  }
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string tail(const std::string& path, std::size_t n) {
  auto lines = read_lines(path);
  std::string out;
  std::size_t first = lines.size() > n ? lines.size() - n : 0;
  for (std::size_t i = first; i < lines.size(); ++i) out += "    " + lines[i] + "\n";
  return out;
}

/// The lines of a pmx.log (pattern "<date> <time> <level> <message>") logged at critical: what
/// pmxd logs when an exception escaped its event loop, a bug whatever the test expects.
std::string critical_lines(const std::string& log) {
  std::string found;
  for (const auto& line : read_lines(log)) {
    std::istringstream words(line);
    std::string date, time, level;
    words >> date >> time >> level;
    if (level == "critical") found += line + "\n";
  }
  return found;
}

/// Fields after the ")" of /proc/<pid>/stat: [0] is the state (field 3).
std::vector<std::string> stat_fields(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return {};
  auto close = stat->rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(stat->substr(close + 1));
  std::vector<std::string> fields;
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

}  // namespace

CATCH_REGISTER_LISTENER(FailureCounter)

std::string tested_binary(const char* built, const char* in_tree) {
  const char* tree = std::getenv("PMX_ITEST_BINARIES");
  if (tree == nullptr || *tree == '\0') return built;
  return std::string(tree) + "/" + in_tree;
}

bool sanitized() {
#ifdef PMX_ITEST_SANITIZED
  return true;
#else
  const char* flag = std::getenv("PMX_ITEST_SANITIZED");
  return flag != nullptr && std::string_view(flag) == "1";
#endif
}

bool wait_until(const std::function<bool()>& pred, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    auto left = remaining(deadline);
    if (left.count() == 0) return false;
    std::this_thread::sleep_for(std::min<milliseconds>(20ms, left));
  }
}

long rss_bytes(pid_t pid) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status").value_or(""));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return 0;
}

std::vector<std::string> open_fd_targets(pid_t pid) {
  std::vector<std::pair<int, std::string>> fds;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[512] = {};
      const ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      fds.emplace_back(std::atoi(e->d_name), n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?");
    }
    ::closedir(d);
  }
  std::sort(fds.begin(), fds.end());
  std::vector<std::string> targets;
  for (auto& [fd, target] : fds) targets.push_back(std::move(target));
  return targets;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  auto fields = stat_fields(pid);
  if (fields.empty()) return false;
  const auto& state = fields[0];
  return state != "Z" && state != "X" && state != "x";
}

unsigned long long process_start_time(pid_t pid) {
  auto fields = stat_fields(pid);
  if (fields.size() < 20) return 0;
  return std::stoull(fields[19]);
}

bool process_ignores(pid_t pid, const std::vector<int>& sigs) {
  for (const auto& line : read_lines("/proc/" + std::to_string(pid) + "/status")) {
    if (line.rfind("SigIgn:", 0) != 0) continue;
    unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
    for (int sig : sigs)
      if (!(mask & (1ULL << (sig - 1)))) return false;
    return true;
  }
  return false;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  auto content = read_file(path);
  if (!content) return lines;
  std::istringstream in(*content);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::vector<long> ticks(const std::string& path) {
  std::vector<long> out;
  for (const auto& line : read_lines(path)) {
    if (line.rfind("tick ", 0) == 0) out.push_back(std::strtol(line.c_str() + 5, nullptr, 10));
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  os << "$ " << r.command << "\n  exit code: " << r.exit_code
     << (r.timed_out ? " (killed at the deadline)" : "") << "\n  stdout: " << r.out
     << "\n  stderr: " << r.err;
  return os;
}

RunResult run_process(const std::vector<std::string>& argv_in, const RunOptions& opts) {
  RunResult result;
  result.command = join(argv_in);
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = build_env(opts);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    reset_signals();
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    close_fds_from(3);
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(126);
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  close(devnull);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);

  auto deadline = Clock::now() + opts.timeout;
  bool open_out = true, open_err = true;
  auto drain = [&](int fd, std::string& into, bool& open) {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) open = false;
      if (n < 0 && errno == EINTR) continue;
      return;  // EOF or EAGAIN
    }
  };
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    pollfd fds[2];
    int nfds = 0;
    if (open_out) fds[nfds++] = {out[0], POLLIN, 0};
    if (open_err) fds[nfds++] = {err[0], POLLIN, 0};
    // Short poll: a daemon auto-started by pmx may keep the pipes open after pmx exits,
    // so EOF is not awaited; the exit of the child itself ends the run.
    if (nfds > 0) poll(fds, nfds, 20);
    else std::this_thread::sleep_for(5ms);
    if (open_out) drain(out[0], result.out, open_out);
    if (open_err) drain(err[0], result.err, open_err);
    if (opts.on_poll) opts.on_poll();
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
    }
  }
  // Everything the child wrote before exiting is in the pipes now.
  if (open_out) drain(out[0], result.out, open_out);
  if (open_err) drain(err[0], result.err, open_err);
  close(out[0]);
  close(err[0]);
  result.exit_code = result.timed_out ? -1 : decode_status(status);
  return result;
}

RunResult run_pmx(const std::string& home, const std::vector<std::string>& args,
                  const RunOptions& opts) {
  RunOptions full = opts;
  auto has = [&](const std::string& name) {
    for (const auto& [k, v] : opts.env)
      if (k == name) return true;
    return false;
  };
  if (!has("PMX_HOME")) full.env.emplace_back("PMX_HOME", home);
  if (!has("PMXD")) full.env.emplace_back("PMXD", bin::kPmxd);
  std::vector<std::string> argv{bin::kPmx};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, full);
  r.command = "PMX_HOME=" + home + " pmx " + join(args);
  return r;
}

// ---------------------------------------------------------------------------------------------
// TempHome

TempHome::TempHome()
    : failures_at_start_(g_failed_assertions), uncaught_at_start_(std::uncaught_exceptions()) {
  char tmpl[] = "/tmp/pmx-it-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
  path_ = tmpl;
  fs::create_directories(path_ + "/scratch");
}

TempHome::~TempHome() {
  if (std::uncaught_exceptions() == uncaught_at_start_) {
    // Whichever pmxd served this home (a DaemonProcess, or one pmx auto-started), none may have
    // had an exception escape its loop: no test passes over that.
    const std::string critical = critical_lines(daemon_log());
    INFO("pmx.log of " << path_ << " holds critical lines:\n" << critical);
    CHECK(critical.empty());
  }
  bool failed = g_failed_assertions != failures_at_start_ ||
                std::uncaught_exceptions() != uncaught_at_start_;
  if (!failed) {
    std::error_code ec;
    fs::remove_all(path_, ec);
    return;
  }
  std::cerr << "pmx integration: test failed; kept PMX_HOME=" << path_ << "\n";
  if (file_exists(daemon_log()))
    std::cerr << "  last lines of " << daemon_log() << ":\n" << tail(daemon_log(), 40);
  auto console = scratch("pmxd-console.log");
  if (file_exists(console))
    std::cerr << "  last lines of " << console << ":\n" << tail(console, 20);
}

std::string TempHome::scratch(const std::string& name) const {
  return path_ + "/scratch/" + name;
}

// ---------------------------------------------------------------------------------------------
// SharedFolder

SharedFolder::~SharedFolder() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

const std::string& SharedFolder::path() {
  if (!path_.empty()) return path_;
  const char* base = std::getenv("PMX_TEST_SHARED_DIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pmx-shared-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + strerror(errno));
  path_ = tmpl;
  if (chmod(path_.c_str(), 0755) != 0) throw std::runtime_error("chmod " + path_ + ": " + strerror(errno));
  return path_;
}

std::string SharedFolder::executable_for(const std::string& from, uid_t uid, gid_t gid) {
  const std::string copy = path() + "/" + fs::path(from).filename().string();
  std::error_code ec;
  fs::copy_file(from, copy, fs::copy_options::overwrite_existing, ec);
  if (ec || chmod(copy.c_str(), 0755) != 0) {
    WARN("cannot copy " << from << " to " << copy << " (" << (ec ? ec.message() : strerror(errno))
                        << "): skipped, since uid " << uid << " could not run it");
    return "";
  }
  if (!accessible_by(uid, gid, copy, X_OK)) {
    WARN("uid " << uid << " cannot execute " << copy << " (is " << path()
                << " on a noexec mount, or a folder above it private? PMX_TEST_SHARED_DIR picks another place): skipped");
    return "";
  }
  return copy;
}

std::string SharedFolder::folder_of(const std::string& name, uid_t uid, gid_t gid, mode_t mode) {
  const std::string dir = path() + "/" + name;
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) throw std::runtime_error("mkdir " + dir + ": " + strerror(errno));
  if (chown(dir.c_str(), uid, gid) != 0 || chmod(dir.c_str(), mode) != 0) {
    throw std::runtime_error("chown/chmod " + dir + ": " + strerror(errno));
  }
  return dir;
}

bool accessible_by(uid_t uid, gid_t gid, const std::string& path, int mode) {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // Raw system calls: they change this (single-threaded) child alone.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setgid, gid) != 0 || syscall(SYS_setuid, uid) != 0) _exit(2);
    _exit(access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// ---------------------------------------------------------------------------------------------
// DaemonProcess

DaemonProcess::DaemonProcess(const TempHome& home, std::vector<std::string> extra_args)
    : home_(home) {
  std::vector<std::string> argv{bin::kPmxd, "--foreground"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  RunOptions opts;
  opts.env = {{"PMX_HOME", home.path()}, {"PMXD", bin::kPmxd}};
  std::vector<std::string> env = build_env(opts);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env);
  std::string console_path = home.scratch("pmxd-console.log");
  int console_fd = open(console_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (console_fd < 0 || devnull < 0) throw std::runtime_error("cannot open " + console_path);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid_ == 0) {
    reset_signals();
    dup2(devnull, 0);
    dup2(console_fd, 1);
    dup2(console_fd, 2);
    close_fds_from(3);
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(126);
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  close(console_fd);
  close(devnull);

  bool up = wait_until(
      [&] {
        if (wait_exit(0ms)) return true;
        RawClient probe;
        return probe.connect(home.socket());
      },
      10s);
  if (!up || exited_) {
    std::string why = exited_ ? "pmxd exited with " + std::to_string(exit_code_)
                              : "pmxd's socket did not accept connections within 10 s";
    if (!exited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
      exited_ = true;
    }
    throw std::runtime_error(why + "; console: " + console());
  }
}

void DaemonProcess::poll_exit() {
  if (exited_ || pid_ <= 0) return;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    exit_code_ = decode_status(st);
  }
}

std::optional<int> DaemonProcess::wait_exit(milliseconds timeout) {
  if (exited_) return exit_code_;
  bool done = wait_until(
      [&] {
        poll_exit();
        return exited_;
      },
      timeout);
  if (!done) return std::nullopt;
  return exit_code_;
}

std::string DaemonProcess::console() const {
  return read_file(home_.scratch("pmxd-console.log")).value_or("");
}

void DaemonProcess::crash() {
  if (exited_) return;
  kill(pid_, SIGKILL);
  int st;
  waitpid(pid_, &st, 0);
  exited_ = true;
  crashed_ = true;
  exit_code_ = decode_status(st);
}

DaemonProcess::~DaemonProcess() { shutdown(); }

AutostartedDaemonGuard::~AutostartedDaemonGuard() {
  auto pidfile = read_file(home.path() + "/pmxd.pid");
  if (!pidfile) return;
  pid_t pid = static_cast<pid_t>(std::atoi(pidfile->c_str()));
  if (pid <= 0 || !process_alive(pid)) return;
  run_pmx(home.path(), {"kill"}, kill_options());
  if (!wait_until([&] { return !process_alive(pid); }, 5s)) kill(pid, SIGKILL);
}

void DaemonProcess::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (!exited_) {
    RunOptions opts;
    opts.timeout = 15s;
    opts.on_poll = [this] { poll_exit(); };
    run_pmx(home_.path(), {"kill"}, opts);
    if (!wait_exit(10s)) {
      std::cerr << "pmx integration: pmxd " << pid_ << " outlived `pmx kill`; SIGKILL\n";
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
      exited_ = true;
    }
  }
  // A daemon auto-started behind our back (e.g. after ours died) is stopped too.
  if (auto pidfile = read_file(home_.path() + "/pmxd.pid")) {
    pid_t other = static_cast<pid_t>(std::atoi(pidfile->c_str()));
    if (other > 0 && other != pid_ && process_alive(other)) {
      std::cerr << "pmx integration: stray pmxd " << other << " in " << home_.path() << "\n";
      run_pmx(home_.path(), {"kill"}, kill_options());
      if (process_alive(other)) kill(other, SIGKILL);
    }
  }
  if (std::uncaught_exceptions() == 0) {
    // Under ASan/UBSan a report (or a leak at exit) shows in the console and the exit code.
    const std::string out = console();
    for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
      INFO("pmxd's console:\n" << out);
      CHECK(out.find(report) == std::string::npos);
    }
    INFO("pmxd exit code " << exit_code_ << "; console:\n" << out);
    CHECK((exit_code_ == 0 || crashed_));
    // pmx.log's critical lines are checked by the TempHome, for every pmxd of the home.
  }
}

// ---------------------------------------------------------------------------------------------
// RawClient

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

RawClient::RawClient(RawClient&& other) noexcept
    : fd_(other.fd_), eof_(other.eof_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

bool RawClient::connect(const std::string& path) {
  if (fd_ >= 0) close(fd_);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
    return false;
  }
  fcntl(fd_, F_SETFL, O_NONBLOCK);
  eof_ = false;
  buffer_.clear();
  return true;
}

bool RawClient::send(const std::string& bytes, milliseconds timeout) {
  if (fd_ < 0) return false;
  auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto left = remaining(deadline);
      if (left.count() == 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, static_cast<int>(left.count()));
      continue;
    }
    eof_ = true;  // EPIPE, ECONNRESET: the peer closed
    return false;
  }
  return true;
}

std::optional<std::string> RawClient::read_line(milliseconds timeout) {
  if (fd_ < 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_) return std::nullopt;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      eof_ = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof_ = true;  // ECONNRESET
      continue;
    }
    auto left = remaining(deadline);
    if (left.count() == 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

std::optional<json> RawClient::call(const json& id, const std::string& method,
                                    const json& params, milliseconds timeout) {
  json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  if (!send(req.dump() + "\n", timeout)) return std::nullopt;
  auto line = read_line(timeout);
  if (!line) return std::nullopt;
  return json::parse(*line, nullptr, false);
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(std::vector<std::string> daemon_args) : daemon(home, std::move(daemon_args)) {}

Session::~Session() {
  daemon.shutdown();
  // Cleanup only (tests check leftovers themselves): nothing outlives the test's daemon.
  for (auto [pid, start] : tracked_) {
    if (process_alive(pid) && process_start_time(pid) == start) {
      std::cerr << "pmx integration: killing leftover app process " << pid << "\n";
      kill(pid, SIGKILL);
    }
  }
}

void Session::track(pid_t pid) {
  if (pid <= 0) return;
  for (const auto& [p, s] : tracked_)
    if (p == pid) return;
  auto start = process_start_time(pid);
  if (start != 0) tracked_.emplace_back(pid, start);
}

RunResult Session::pmx(const std::vector<std::string>& args, const RunOptions& opts) {
  RunOptions with_reaping = opts;
  if (!with_reaping.on_poll) with_reaping.on_poll = [this] { daemon.poll_exit(); };
  return run_pmx(home.path(), args, with_reaping);
}

json jlist_of(const TempHome& home) {
  auto r = run_pmx(home.path(), {"jlist"});
  INFO(r);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

json Session::jlist() {
  auto r = pmx({"jlist"});
  if (r.exit_code != 0) {
    std::ostringstream ss;
    ss << "pmx jlist failed:\n" << r;
    throw std::runtime_error(ss.str());
  }
  auto list = json::parse(r.out, nullptr, false);
  if (list.is_discarded() || !list.is_array()) {
    std::ostringstream ss;
    ss << "pmx jlist did not print a JSON array:\n" << r;
    throw std::runtime_error(ss.str());
  }
  for (const auto& app : list)
    if (app.contains("pid") && app["pid"].is_number_integer()) track(app["pid"].get<pid_t>());
  return list;
}

std::optional<json> Session::find_app(const std::string& name) {
  for (auto& app : jlist())
    if (app.value("name", "") == name) return app;
  return std::nullopt;
}

json Session::app(const std::string& name) {
  auto app = find_app(name);
  if (!app) throw std::runtime_error("no app named " + name + " in pmx jlist");
  return *app;
}

std::string Session::status(const std::string& name) {
  auto app = find_app(name);
  if (!app) return "";
  return (*app)["pm2_env"].value("status", "");
}

pid_t Session::wait_pid(const std::string& name, milliseconds timeout) {
  pid_t pid = 0;
  bool ok = wait_until(
      [&] {
        auto app = find_app(name);
        if (!app) return false;
        pid = (*app).value("pid", 0);
        return pid > 0 && process_alive(pid);
      },
      timeout);
  return ok ? pid : 0;
}

bool Session::wait_status(const std::string& name, const std::string& status,
                          milliseconds timeout) {
  return wait_until([&] { return this->status(name) == status; }, timeout);
}

std::vector<pid_t> read_pids(const std::string& path) {
  std::vector<pid_t> pids;
  for (const auto& line : read_lines(path))
    if (!line.empty()) pids.push_back(static_cast<pid_t>(std::stol(line)));
  return pids;
}

std::map<std::string, std::string> read_env_dump(const std::string& path) {
  std::map<std::string, std::string> env;
  for (const auto& line : read_lines(path)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

namespace {

std::optional<std::string> http_exchange(int fd, const sockaddr* addr, socklen_t len, const std::string& path,
                                         milliseconds timeout) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (fd < 0) return std::nullopt;
  const timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, addr, len) != 0) return std::nullopt;
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return std::nullopt;
  std::string response;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) return std::nullopt;  // reset, or the deadline
    response.append(buf, static_cast<std::size_t>(n));
  }
  auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

}  // namespace

int connect_loopback(int port, bool nonblocking) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && !(nonblocking && errno == EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::string> http_get(int port, const std::string& path, milliseconds timeout) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return http_exchange(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), reinterpret_cast<sockaddr*>(&a), sizeof a,
                       path, timeout);
}

std::optional<std::string> http_get_unix(const std::string& socket_path, const std::string& path, milliseconds timeout) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof a.sun_path) return std::nullopt;
  std::memcpy(a.sun_path, socket_path.c_str(), socket_path.size() + 1);
  return http_exchange(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), reinterpret_cast<sockaddr*>(&a), sizeof a,
                       path, timeout);
}

namespace {

/// Binds 127.0.0.1:port (0: any) with SO_REUSEADDR and returns the port bound, or 0.
int try_bind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  // As servers do: connections of the last run in TIME_WAIT do not keep the port, a listener does.
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    bound = ntohs(a.sin_port);
  }
  close(fd);
  return bound;
}

}  // namespace

int free_port() { return try_bind(0); }

bool port_is_free(int port) { return try_bind(port) == port; }

std::string write_fd3_server(const TempHome& home) {
  const std::string path = home.scratch("fd3_server.py");
  std::ofstream(path) << R"(import http.server, os, socket, socketserver
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        e = os.environ
        body = " ".join([str(os.getpid()), e.get("LISTEN_FDS", "-"), e.get("LISTEN_PID", "-"),
                         e.get("LISTEN_FDNAMES", "-"), e.get("PORT", "-")]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
sock = socket.socket(fileno=3)
class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    def __init__(self):
        socketserver.BaseServer.__init__(self, sock.getsockname(), Handler)
        self.socket = sock
Server().serve_forever()
)";
  return path;
}

std::vector<std::string> fd3_web_start(const TempHome& home, const std::vector<std::string>& options) {
  std::vector<std::string> args = {"start", write_fd3_server(home), "--name", "web", "-i", "2", "--kill-timeout", "1000"};
  args.insert(args.end(), options.begin(), options.end());
  return args;
}

bool have_python() { return run_process({"/bin/sh", "-c", "command -v python3"}).exit_code == 0; }
bool have_node() { return run_process({"/bin/sh", "-c", "command -v node"}).exit_code == 0; }

std::string npm_package_folder(const std::string& folder, const std::string& package, const std::string& spec) {
  const std::string dir = std::string(PMX_NODE_MODULES_DIR) + "/" + folder;
  const std::string manifest = dir + "/node_modules/" + package + "/package.json";
  if (file_exists(manifest)) return dir;
  if (run_process({"/bin/sh", "-c", "command -v npm"}).exit_code != 0) return "";
  ::mkdir(PMX_NODE_MODULES_DIR, 0755);
  // Into a folder of its own, renamed into place: tests running at once never see half of it.
  const std::string tmp = dir + ".tmp." + std::to_string(::getpid());
  RunOptions options;
  options.timeout = std::chrono::seconds(180);
  const RunResult installed = run_process(
      {"/bin/sh", "-c", "mkdir -p '" + tmp + "' && cd '" + tmp + "' && echo '{}' > package.json && "
                        "npm install --no-audit --no-fund --no-update-notifier --loglevel=error " + spec + " >&2"},
      options);
  if (installed.exit_code == 0 && ::rename(tmp.c_str(), dir.c_str()) != 0) {
    run_process({"rm", "-rf", tmp});  // another test was first
  }
  if (installed.exit_code != 0) {
    WARN("npm install " << spec << " failed (no registry to reach?): " << installed.err);
    run_process({"rm", "-rf", tmp});
  }
  return file_exists(manifest) ? dir : "";
}

namespace {

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::map<std::string, std::vector<std::string>> answers_from(
    const std::function<std::optional<std::string>()>& get, const std::set<std::string>& pids) {
  std::map<std::string, std::vector<std::string>> seen;
  wait_until(
      [&] {
        if (auto body = get()) {
          auto w = words(*body);
          if (!w.empty()) seen[w[0]] = w;
        }
        for (const auto& p : pids) {
          if (!seen.count(p)) return false;
        }
        return true;
      },
      15s);
  return seen;
}

std::set<std::string> pids_of(Session& s, const std::string& name) {
  std::set<std::string> out;
  for (const auto& app : s.jlist()) {
    if (app.value("name", "") == name && app.value("pid", 0) > 0) out.insert(std::to_string(app.value("pid", 0)));
  }
  return out;
}

}  // namespace pmx::itest
