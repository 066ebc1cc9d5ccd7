// Harness: runs pmx and pmxd against a throwaway PMX_HOME and observes the processes they manage.
//
// Every test builds a Session (a TempHome plus a DaemonProcess), drives the real binaries through
// run_pmx()/Session::pmx(), and waits with wait_until() on a deadline; nothing sleeps in place of
// synchronisation. The binaries' and fixtures' paths come from CMake (see CMakeLists.txt).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace pmx::itest {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

/// The path of a binary under test: `built` (CMake's $<TARGET_FILE:...> in this program's build
/// tree), or `in_tree` inside the build tree PMX_ITEST_BINARIES names. The sanitizer pass runs
/// the normal build's tests against its own pmx and pmxd that way, instead of compiling them twice.
std::string tested_binary(const char* built, const char* in_tree);

/// True when the binaries under test are sanitized (several times slower, RSS meaningless): this
/// program was built with PMX_SANITIZE, or PMX_ITEST_SANITIZED=1 says the binaries of
/// PMX_ITEST_BINARIES are. Tests take a smaller load there.
bool sanitized();

/// Paths of the binaries under test and of the fixtures, from CMake's $<TARGET_FILE:...>.
namespace bin {
inline const std::string kPmx = tested_binary(PMX_BIN, "cli/pmx");
inline const std::string kPmxd = tested_binary(PMXD_BIN, "daemon/pmxd");
inline const std::string kRuntime = tested_binary(PMX_RUNTIME_BIN, "cli/pmx-runtime");
inline const std::string kExitAfter = FIXTURE_EXIT_AFTER;
inline const std::string kSleeper = FIXTURE_SLEEPER;
inline const std::string kIgnoreSignals = FIXTURE_IGNORE_SIGNALS;
inline const std::string kSpawnTree = FIXTURE_SPAWN_TREE;
inline const std::string kMemhog = FIXTURE_MEMHOG;
inline const std::string kFdLister = FIXTURE_FD_LISTER;
inline const std::string kEnvDump = FIXTURE_ENV_DUMP;
inline const std::string kLinegen = FIXTURE_LINEGEN;
inline const std::string kTicker = FIXTURE_TICKER;
inline const std::string kSpinner = FIXTURE_SPINNER;
inline const std::string kForker = FIXTURE_FORKER;
}  // namespace bin

/// Polls pred every 20 ms until it holds (true) or timeout passes (false).
/// The predicate is evaluated once more at the deadline.
bool wait_until(const std::function<bool()>& pred, milliseconds timeout);

/// True while pid exists and is neither a zombie nor dead (state from /proc/<pid>/stat).
bool process_alive(pid_t pid);

/// The resident memory (VmRSS) of pid in bytes, 0 when unreadable.
long rss_bytes(pid_t pid);

/// What each descriptor of pid leads to ("socket:[123]", "/tmp/x/out.log", "pipe:[9]"), in fd order.
std::vector<std::string> open_fd_targets(pid_t pid);

/// Start time of pid in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if gone.
unsigned long long process_start_time(pid_t pid);

/// True when pid ignores every signal in sigs (SigIgn in /proc/<pid>/status).
bool process_ignores(pid_t pid, const std::vector<int>& sigs);

/// Whole file as a string; nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

/// Lines of a file (without newlines); empty when missing.
std::vector<std::string> read_lines(const std::string& path);

bool file_exists(const std::string& path);
/// s in lower case (ASCII), for matching messages whatever their capitals.
std::string lower(std::string s);
/// Whether text contains part.
inline bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
/// The numbers of the "tick <n>" lines (the ticker fixture's) of a log, in file order: a gap or a
/// repeat shows a lost or doubled line.
std::vector<long> ticks(const std::string& path);

/// The outcome of a child process run to completion.
struct RunResult {
  int exit_code = -1;  ///< exit status; 128+n if killed by signal n; -1 if it hit the deadline
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string command;  ///< for failure messages
};
std::ostream& operator<<(std::ostream& os, const RunResult& r);

/// How to run a child: environment changes on top of this process's environment.
struct RunOptions {
  std::vector<std::pair<std::string, std::string>> env;  ///< set (override) these
  std::vector<std::string> unset;                        ///< remove these
  milliseconds timeout = 30s;
  /// Called every poll (~20 ms) while the child runs; the harness reaps its pmxd there, since a
  /// zombie pmxd would look alive to `pmx kill`, which waits for the daemon to exit.
  std::function<void()> on_poll;
  std::string cwd = {};  ///< the child's working folder; empty: the test's own
};

/// Options for a `pmx kill` at cleanup: a 15 s deadline.
inline RunOptions kill_options() {
  RunOptions opts;
  opts.timeout = 15s;
  return opts;
}

/// Runs argv[0] with argv, stdin /dev/null, stdout/stderr captured. Kills it at the deadline.
RunResult run_process(const std::vector<std::string>& argv, const RunOptions& opts = {});

/// Runs pmx with PMX_HOME=home and PMXD=the pmxd under test (both overridable via opts.env).
RunResult run_pmx(const std::string& home, const std::vector<std::string>& args,
                  const RunOptions& opts = {});

class TempHome;
/// `pmx jlist` of home's daemon, parsed; REQUIREs that pmx succeeds (for tests without a Session).
json jlist_of(const TempHome& home);

/// A fresh mkdtemp directory used as PMX_HOME. Removed at destruction when the test passed; kept
/// and printed (with the tail of pmx.log) when it failed. At destruction, pmx.log must hold no
/// line logged at critical (an exception escaped a pmxd's event loop), whichever pmxd served the
/// home: a DaemonProcess or one that pmx auto-started.
class TempHome {
 public:
  TempHome();
  ~TempHome();
  TempHome(const TempHome&) = delete;
  TempHome& operator=(const TempHome&) = delete;

  const std::string& path() const { return path_; }
  /// A path in a scratch folder inside the home, for fixtures' output files.
  std::string scratch(const std::string& name) const;
  std::string daemon_log() const { return path_ + "/pmx.log"; }
  std::string socket() const { return path_ + "/pmx.sock"; }

 private:
  std::string path_;
  int failures_at_start_;
  int uncaught_at_start_;
};

/// A world-readable folder outside the test's home, for what an app started as another user
/// (`--uid`) must reach: the home is a 0700 mkdtemp folder, and the build tree may sit in a
/// private folder too (a clone under /root), which such a user cannot enter. It holds copies of
/// fixtures, and folders owned by the app's user (its cwd, its log folder). Made in /tmp (or
/// $PMX_TEST_SHARED_DIR) at the first use, removed with what it holds at destruction: declare
/// it before the Session, so that it outlives the apps.
class SharedFolder {
 public:
  SharedFolder() = default;
  ~SharedFolder();
  SharedFolder(const SharedFolder&) = delete;
  SharedFolder& operator=(const SharedFolder&) = delete;

  /// The folder (mode 0755, root's), made on first use.
  const std::string& path();
  /// A copy of the executable from in the folder (mode 0755) that uid:gid can execute, or ""
  /// after a WARN saying why not (e.g. /tmp mounted noexec): the test should then skip.
  std::string executable_for(const std::string& from, uid_t uid, gid_t gid);
  /// A folder name in the folder, owned by uid:gid with mode (made, or given them).
  std::string folder_of(const std::string& name, uid_t uid, gid_t gid, mode_t mode = 0755);

 private:
  std::string path_;
};

/// Whether uid:gid (with no supplementary group) may access path with mode (R_OK, X_OK...),
/// asked by a child that takes those credentials.
bool accessible_by(uid_t uid, gid_t gid, const std::string& path, int mode);

/// A pmxd process started by the test. The constructor waits (with a deadline) until its socket
/// accepts connections. Teardown: `pmx kill`, then SIGKILL if still there, then reap; then checks
/// that pmxd exited 0 and printed no sanitizer report (the TempHome checks pmx.log).
class DaemonProcess {
 public:
  /// Starts `pmxd --foreground <extra_args>` with PMX_HOME=home.path().
  DaemonProcess(const TempHome& home, std::vector<std::string> extra_args = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// The teardown described above; idempotent, also run by the destructor.
  void shutdown();
  /// Kills the daemon with SIGKILL (as the OOM killer would) and reaps it; its apps are left
  /// running and teardown expects no clean exit from it.
  void crash();
  /// Reaps the daemon if it has exited, without waiting.
  void poll_exit();
  /// Waits for the daemon to exit (it is reaped); returns its RunResult-style exit code, or
  /// nullopt at the deadline.
  std::optional<int> wait_exit(milliseconds timeout);
  bool exited() const { return exited_; }
  /// What the daemon printed on its stdout/stderr.
  std::string console() const;

 private:
  const TempHome& home_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool shut_down_ = false;
  bool crashed_ = false;
  int exit_code_ = -1;
};

/// Raw newline-delimited client of the control socket, for protocol tests.
class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(RawClient&& other) noexcept;
  RawClient& operator=(RawClient&&) = delete;
  RawClient(const RawClient&) = delete;

  /// Connects to a Unix socket; false on failure.
  bool connect(const std::string& path);
  /// Sends all bytes before the deadline; false when the peer closed or the deadline passed.
  bool send(const std::string& bytes, milliseconds timeout = 5s);
  /// Next line (newline stripped) before the deadline; nullopt on timeout or EOF (see eof()).
  std::optional<std::string> read_line(milliseconds timeout = 5s);
  /// Sends a request and reads the next line, parsed (discarded json when unparsable).
  std::optional<json> call(const json& id, const std::string& method,
                           const json& params = json::object(), milliseconds timeout = 5s);
  bool eof() const { return eof_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

/// For tests without a DaemonProcess: stops whatever pmxd was auto-started in home.
struct AutostartedDaemonGuard {
  const TempHome& home;
  ~AutostartedDaemonGuard();
};

/// A test's world: its own home and its own daemon.
class Session {
 public:
  explicit Session(std::vector<std::string> daemon_args = {});
  ~Session();

  TempHome home;
  DaemonProcess daemon;

  RunResult pmx(const std::vector<std::string>& args, const RunOptions& opts = {});
  /// `pmx jlist` parsed; throws (failing the test) when pmx fails or prints no JSON array.
  json jlist();
  /// The jlist entry named name, or nullopt.
  std::optional<json> find_app(const std::string& name);
  /// The jlist entry named name; throws when missing.
  json app(const std::string& name);
  /// pm2_env.status of name, "" when missing.
  std::string status(const std::string& name);
  /// Waits until app name has a running pid (> 0, alive); returns it, or 0 at the deadline.
  pid_t wait_pid(const std::string& name, milliseconds timeout = 10s);
  /// Waits until app name reports status; true when it did.
  bool wait_status(const std::string& name, const std::string& status,
                   milliseconds timeout = 10s);
  /// Records a process to SIGKILL at teardown if it outlives the daemon (cleanup, not a check).
  void track(pid_t pid);

 private:
  std::vector<std::pair<pid_t, unsigned long long>> tracked_;
};

/// One HTTP/1.0 GET of path from 127.0.0.1:port: the response body, or nullopt when the
/// connection is refused or reset, or the deadline passes.
std::optional<std::string> http_get(int port, const std::string& path = "/", milliseconds timeout = 5s);
/// The same over a Unix socket.
std::optional<std::string> http_get_unix(const std::string& socket_path, const std::string& path = "/",
                                         milliseconds timeout = 5s);
/// A TCP port of 127.0.0.1 that was free a moment ago (bound to 0, then closed).
int free_port();
/// Whether a server could bind 127.0.0.1:port now (SO_REUSEADDR, as servers set it): no one
/// listens on it.
bool port_is_free(int port);

/// A TCP socket connected (or, nonblocking, connecting) to 127.0.0.1:port; -1 when refused.
int connect_loopback(int port, bool nonblocking = false);

/// Whether python3 is on PATH (the Python fixtures need it).
bool have_python();
/// Whether node is on PATH.
bool have_node();

/// A folder holding node_modules/<package>, installed from npm (`npm install <spec>`) into
/// <build>/node_packages/<folder> at the first use in this build tree and kept; empty, with a
/// warning, when npm cannot install it (no registry to reach).
std::string npm_package_folder(const std::string& folder, const std::string& package, const std::string& spec);

/// Writes a Python HTTP server that serves from the socket at fd 3 (LISTEN_FDS), as a
/// socket-activated server does, into home's scratch folder; returns its path. It answers
/// "<pid> <LISTEN_FDS> <LISTEN_PID> <LISTEN_FDNAMES> <PORT>".
std::string write_fd3_server(const TempHome& home);
/// The arguments of `pmx start` for write_fd3_server's server as app "web", 2 instances,
/// kill_timeout 1 s, with options (its sockets: --port or --listen, and any other).
std::vector<std::string> fd3_web_start(const TempHome& home, const std::vector<std::string>& options);

/// Asks get() until every pid in pids has answered (a shared socket gives no order), within
/// 15 s; the answers of an fd-3 server, split into words, by the pid that gave them.
std::map<std::string, std::vector<std::string>> answers_from(
    const std::function<std::optional<std::string>()>& get, const std::set<std::string>& pids);

/// The pids (as text) of name's running instances, from jlist.
std::set<std::string> pids_of(Session& s, const std::string& name);

/// Reads the pids a spawn_tree fixture wrote (parent, child, grandchild).
std::vector<pid_t> read_pids(const std::string& path);

/// Parses env_dump output into NAME -> value.
std::map<std::string, std::string> read_env_dump(const std::string& path);

}  // namespace pmx::itest

/// REQUIRE/CHECK that a RunResult has the given exit code, printing the run on failure.
#define REQUIRE_EXIT(result, code)         \
  do {                                     \
    const auto& pmx_r_ = (result);         \
    INFO(pmx_r_);                          \
    REQUIRE(pmx_r_.exit_code == (code));   \
  } while (0)
#define CHECK_EXIT(result, code)           \
  do {                                     \
    const auto& pmx_r_ = (result);         \
    INFO(pmx_r_);                          \
    CHECK(pmx_r_.exit_code == (code));     \
  } while (0)
