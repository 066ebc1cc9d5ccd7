// `pmx logs`: the tail with its prefixes, --raw/--err/--out/--json, a live
// stream that follows restarts, nothing printed twice between tail and stream, `| head`, and a
// subscriber that never reads.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/integration/harness.hpp"

extern char** environ;

namespace pmx::itest {
namespace {


/// pmx args for home (its PMX_HOME, the pmxd under test), ready for execve in a forked child.
class PmxCommand {
 public:
  PmxCommand(const TempHome& home, const std::vector<std::string>& args) : argv_strings_{bin::kPmx} {
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "PMX_HOME=", 9) != 0 && std::strncmp(*e, "PMXD=", 5) != 0) env_strings_.emplace_back(*e);
    }
    env_strings_.push_back("PMX_HOME=" + home.path());
    env_strings_.push_back("PMXD=" + bin::kPmxd);
    argv_strings_.insert(argv_strings_.end(), args.begin(), args.end());
    for (auto& a : argv_strings_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& e : env_strings_) envp_.push_back(e.data());
    envp_.push_back(nullptr);
  }
  PmxCommand(const PmxCommand&) = delete;  // argv_ and envp_ point into the strings
  PmxCommand& operator=(const PmxCommand&) = delete;

  /// execve; returns only when it failed.
  void exec() const { ::execve(argv_[0], argv_.data(), envp_.data()); }

 private:
  std::vector<std::string> argv_strings_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

/// A `pmx logs ...` left running: its stdout is read as it comes.
class LiveLogs {
 public:
  LiveLogs(const TempHome& home, const std::vector<std::string>& args) {
    const PmxCommand command(home, args);
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      command.exec();
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~LiveLogs() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  /// Reads what is there; waits until pred(output) holds, or timeout.
  bool wait_for(const std::function<bool(const std::string&)>& pred, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      pump(20);
      if (pred(out_)) return true;
      if (Clock::now() > deadline) return false;
    }
  }
  /// Sends SIGINT and waits for the exit code (-1 at the deadline).
  int interrupt(milliseconds timeout = 5s) {
    ::kill(pid_, SIGINT);
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pump(10);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        pump(0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }
  const std::string& output() const { return out_; }

 private:
  void pump(int wait_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) return;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return;
      out_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string out_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool contains_line(const std::string& text, const std::string& line) {
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

long file_size(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

/// Starts linegen 20 as "lg" and waits until both of its files hold the 20 lines.
void start_linegen(Session& s) {
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "lg", "--", "20"}), 0);
  const std::string logs = s.home.path() + "/logs/";
  REQUIRE(wait_until([&] {
    return read_lines(logs + "lg-out.log").size() == 20 && read_lines(logs + "lg-error.log").size() == 20;
  }, 10s));
}

}  // namespace

TEST_CASE("logs --lines 5 --nostream: the last 5 lines of out and err, prefixed", "[logs]") {
  Session s;
  start_linegen(s);
  auto r = s.pmx({"logs", "lg", "--lines", "5", "--nostream"});
  REQUIRE_EXIT(r, 0);
  INFO(r.out);
  const std::string logs = s.home.path() + "/logs/";
  CHECK(contains_line(r.out, "[TAILING] Tailing last 5 lines for [lg] process (change the value with --lines option)"));
  CHECK(contains_line(r.out, logs + "lg-out.log last 5 lines:"));
  CHECK(contains_line(r.out, logs + "lg-error.log last 5 lines:"));
  int out_lines = 0, err_lines = 0;
  for (const auto& line : lines_of(r.out)) {
    if (line.starts_with("0|lg       | err | ")) ++err_lines;
    else if (line.starts_with("0|lg       | ")) ++out_lines;
  }
  CHECK(out_lines == 5);
  CHECK(err_lines == 5);
  for (int i = 16; i <= 20; ++i) {
    CHECK(contains_line(r.out, "0|lg       | out " + std::to_string(i)));
    CHECK(contains_line(r.out, "0|lg       | err | err " + std::to_string(i)));
  }
  CHECK(r.out.find("out 15") == std::string::npos);
  CHECK(r.err.empty());
  // By id and by namespace too; an unknown target fails.
  auto by_id = s.pmx({"logs", "0", "--lines", "1", "--nostream"});
  CHECK(contains_line(by_id.out, "0|lg       | out 20"));
  auto by_ns = s.pmx({"logs", "default", "--lines", "1", "--nostream"});
  CHECK(contains_line(by_ns.out, "0|lg       | out 20"));
  CHECK_EXIT(s.pmx({"logs", "nope", "--nostream"}), 1);
}

TEST_CASE("logs --raw, --err, --out and --json", "[logs]") {
  Session s;
  start_linegen(s);
  auto raw = s.pmx({"logs", "lg", "--lines", "2", "--nostream", "--raw"});
  REQUIRE_EXIT(raw, 0);
  CHECK(lines_of(raw.out) == std::vector<std::string>{"out 19", "out 20", "err 19", "err 20"});

  auto err = s.pmx({"logs", "lg", "--lines", "2", "--nostream", "--raw", "--err"});
  CHECK(lines_of(err.out) == std::vector<std::string>{"err 19", "err 20"});
  auto out = s.pmx({"logs", "lg", "--lines", "2", "--nostream", "--raw", "--out"});
  CHECK(lines_of(out.out) == std::vector<std::string>{"out 19", "out 20"});
  CHECK_EXIT(s.pmx({"logs", "lg", "--out", "--err", "--nostream"}), 2);

  auto js = s.pmx({"logs", "lg", "--lines", "1", "--nostream", "--json"});
  REQUIRE_EXIT(js, 0);
  const auto lines = lines_of(js.out);
  REQUIRE(lines.size() == 2);
  const json first = json::parse(lines[0]);
  CHECK(first["message"] == "out 20");
  CHECK(first["type"] == "out");
  CHECK(first["process_id"] == 0);
  CHECK(first["app_name"] == "lg");
  CHECK(first["timestamp"].is_string());
  CHECK(json::parse(lines[1])["type"] == "err");

  auto stamped = s.pmx({"logs", "lg", "--lines", "1", "--nostream", "--raw", "--out", "--timestamp", "YYYY"});
  const auto year = lines_of(stamped.out);
  REQUIRE(year.size() == 1);
  CHECK(year[0].ends_with(": out 20"));
  CHECK(year[0].size() == std::string("2026: out 20").size());
}

TEST_CASE("a live logs sees new lines promptly and the app's restart", "[logs]") {
  const std::vector<std::string> mode = GENERATE(std::vector<std::string>{}, std::vector<std::string>{"--no-cgroup"});
  Session s(mode);
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick", "--", "50"}), 0);
  LiveLogs live(s.home, {"logs", "tick", "--lines", "0"});
  // A line numbered after any in the file when logs started is a streamed one.
  REQUIRE(live.wait_for([](const std::string& o) { return o.find("0|tick     | tick ") != std::string::npos; }, 10s));
  const auto before = Clock::now();
  const std::size_t seen = live.output().size();
  REQUIRE(live.wait_for([&](const std::string& o) { return o.find("0|tick     | tick ", seen) != std::string::npos; }, 5s));
  CHECK(Clock::now() - before < 2s);

  const std::size_t mark = live.output().size();
  REQUIRE_EXIT(s.pmx({"restart", "tick"}), 0);
  // The restart shows, and the new run's first line.
  REQUIRE(live.wait_for([&](const std::string& o) {
    return o.find("PMX        | 0|tick: online (pid ", mark) != std::string::npos &&
           o.find("0|tick     | tick 1\n", mark) != std::string::npos;
  }, 10s));
  INFO(live.output());
  CHECK(live.interrupt() == 0);
}

TEST_CASE("logs prints nothing twice and loses nothing between the tail and the stream", "[logs]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "fast", "--", "1"}), 0);
  const std::string out_log = s.home.path() + "/logs/fast-out.log";
  REQUIRE(wait_until([&] { return read_lines(out_log).size() >= 200; }, 10s));
  LiveLogs live(s.home, {"logs", "fast", "--lines", "100", "--raw", "--out"});
  REQUIRE(live.wait_for([](const std::string& o) { return lines_of(o).size() >= 1500; }, 20s));
  CHECK(live.interrupt() == 0);
  const auto lines = lines_of(live.output());
  INFO(lines.size() << " lines; first " << lines.front() << ", last " << lines.back());
  long previous = -1;
  int gaps = 0;
  for (const auto& line : lines) {
    REQUIRE(line.starts_with("tick "));
    const long n = std::stol(line.substr(5));
    if (previous >= 0 && n != previous + 1) ++gaps;
    previous = n;
  }
  CHECK(gaps == 0);
}

TEST_CASE("pmx logs | head -3 ends at once with status 0 and no error", "[logs]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick", "--", "20"}), 0);
  REQUIRE(wait_until([&] { return read_lines(s.home.path() + "/logs/tick-out.log").size() >= 5; }, 10s));
  RunOptions opts;
  opts.env = {{"PMX_HOME", s.home.path()}, {"PMXD", bin::kPmxd}};
  opts.timeout = 10s;
  const auto started = Clock::now();
  auto r = run_process({"/bin/bash", "-c", "set -o pipefail; '" + bin::kPmx + "' logs | head -3"}, opts);
  CHECK_EXIT(r, 0);
  CHECK(Clock::now() - started < 5s);
  CHECK(lines_of(r.out).size() == 3);
  CHECK(r.err.empty());
  // Streaming only, the first streamed lines are enough too.
  auto streamed = run_process({"/bin/bash", "-c", "set -o pipefail; '" + bin::kPmx + "' logs --lines 0 --raw | head -2"}, opts);
  CHECK_EXIT(streamed, 0);
  CHECK(lines_of(streamed.out).size() == 2);
  CHECK(streamed.err.empty());
}

TEST_CASE("a follower that never reads does not grow pmxd, it is told how many lines it skipped", "[logs]") {
  Session s;
  RawClient follower;
  REQUIRE(follower.connect(s.home.socket()));
  auto reply = follower.call(1, "logs", {{"targets", {"all"}}, {"lines", 0}, {"follow", true}});
  REQUIRE(reply);
  REQUIRE(reply->contains("result"));
  const long rss_before = rss_bytes(s.daemon.pid());

  // linegen N writes "out i" and "err i" for i = 1..N: about 50 MB in all.
  const long n = 2'500'000;
  long expected = 0;
  for (long i = 1, digits = 1, next = 10; i <= n; ++i) {
    if (i == next) ++digits, next *= 10;
    expected += 5 + digits;
  }
  // One file per stream (no rotation), so the file sizes say when everything is in.
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "flood", "--log-max-size", "0", "--", std::to_string(n)}), 0);
  const std::string logs = s.home.path() + "/logs/";
  long peak = 0;
  REQUIRE(wait_until([&] {
    peak = std::max(peak, rss_bytes(s.daemon.pid()));
    return file_size(logs + "flood-out.log") == expected && file_size(logs + "flood-error.log") == expected;
  }, 120s));
  INFO("pmxd rss before " << rss_before << ", peak " << peak);
  // Under ASan freed memory waits in its quarantine (up to 256 MiB) before it is reused, so
  // the daemon's size says nothing there: the bound is checked in the normal build.
  if (!sanitized()) {  // ASan's shadow and quarantine make pmxd's RSS several times larger
    CHECK(peak < 30L * 1024 * 1024);
    CHECK(peak < rss_before + 30L * 1024 * 1024);
  }
  CHECK_EXIT(s.pmx({"ping"}), 0);

  // Reading at last: what was queued, then the count of what was skipped.
  std::uint64_t skipped = 0;
  REQUIRE(wait_until([&] {
    while (auto line = follower.read_line(100ms)) {
      json note = json::parse(*line, nullptr, false);
      if (note.is_object() && note.value("method", "") == "dropped") skipped += note["params"].value("lines", 0ull);
    }
    return skipped > 0 || follower.eof();
  }, 20s));
  CHECK(skipped > 0);
}

}  // namespace pmx::itest

namespace pmx::itest {

TEST_CASE("logs shows an unterminated line once the app is quiet, and its end after it", "[logs]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick", "--namespace", "ns", "--", "50"}), 0);
  LiveLogs live(s.home, {"logs", "ns", "--lines", "0", "--raw"});
  // Following once a tick shows; a namespace also picks the app started next.
  REQUIRE(live.wait_for([](const std::string& o) { return o.find("tick ") != std::string::npos; }, 10s));
  const std::string flag = s.home.scratch("go");
  REQUIRE_EXIT(s.pmx({"start", "/bin/sh", "--name", "progress", "--namespace", "ns", "--", "-c",
                      "printf 'progress 10%%'; while [ ! -e " + flag + " ]; do sleep 0.05; done; echo ' done'; exec sleep 100"}),
               0);
  auto progress = [](const std::string& o) {
    std::vector<std::string> kept;
    for (const auto& line : lines_of(o)) {
      if (!line.starts_with("tick ")) kept.push_back(line);
    }
    return kept;
  };
  REQUIRE(live.wait_for([&](const std::string& o) { return progress(o) == std::vector<std::string>{"progress 10%"}; }, 10s));
  { std::ofstream(flag.c_str()) << "go"; }
  REQUIRE(live.wait_for([&](const std::string& o) {
    return progress(o) == std::vector<std::string>{"progress 10%", " done"};
  }, 10s));
  CHECK(live.interrupt() == 0);
}

}  // namespace pmx::itest

namespace pmx::itest {

namespace {

/// Runs pmx args with its stdout (and stdin, stderr) on a pseudo-terminal; returns what the
/// terminal received, once pmx has exited (or at the deadline).
std::string pmx_on_terminal(const TempHome& home, const std::vector<std::string>& args, milliseconds timeout) {
  const PmxCommand command(home, args);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    command.exec();
    ::_exit(127);
  }
  std::string seen;
  const auto deadline = Clock::now() + timeout;
  bool exited = false;
  while (Clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) {
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        seen.append(buf, static_cast<std::size_t>(n));
        continue;
      }
    }
    if (exited) break;  // one more read after the exit, then done
    exited = ::waitpid(pid, nullptr, WNOHANG) == pid;
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  ::close(master);
  return seen;
}

}  // namespace

TEST_CASE("pmx logs on a terminal shows an app's escape sequences escaped, and a pipe gets them as they are",
          "[logs][regression]") {
  Session s;
  // A log that retitles the window and clears the screen, as a hostile or broken app's could.
  const std::string log = s.home.scratch("esc-out.log");
  std::ofstream(log) << "before\n\x1b]0;pwned\x07\x1b[2Jafter\n";
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "esc", "--output", log}), 0);
  REQUIRE(wait_until([&] { return mentions(read_file(log).value_or(""), "sleeper: pid"); }, 10s));

  const std::string terminal = pmx_on_terminal(s.home, {"logs", "esc", "--lines", "5", "--nostream", "--raw"}, 10s);
  INFO(terminal);
  CHECK(mentions(terminal, "\\x1b]0;pwned\\x07\\x1b[2Jafter"));
  CHECK(terminal.find('\x1b') == std::string::npos);
  CHECK(terminal.find('\x07') == std::string::npos);

  auto piped = s.pmx({"logs", "esc", "--lines", "5", "--nostream", "--raw"});
  CHECK_EXIT(piped, 0);
  CHECK(mentions(piped.out, "\x1b]0;pwned\x07\x1b[2Jafter\n"));
}

}  // namespace pmx::itest
