// FakeProcessOps: a process layer without processes, for the supervisor's unit tests. Spawns
// hand out pids and report exec success from the loop; signals are recorded and end a process
// unless it ignores them; the test ends processes and sets their memory. Descendants of a leader
// are members of its instance (they carry its unique_id) that pmxd never reaps: their end
// reaches the supervisor only through watch_members.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "daemon/process/process_ops.hpp"

namespace pmx::daemon::testing {

class FakeProcessOps final : public ProcessOps {
 public:
  /// One made-up process.
  struct Proc {
    SpawnRequest request;
    std::uint64_t start = 0;
    bool alive = true;
    bool ending = false;        ///< an exit is on its way to the supervisor
    bool ignores_signals = false;  ///< every signal but SIGKILL
    bool child = true;          ///< spawned by us (else: a process a crashed pmxd left)
    std::uint64_t rss = 0;
    std::vector<int> signals;   ///< every signal it was sent, in order
    /// The process's copies of the fds it inherited (request.inherited_fds: its fds 3..), open
    /// while it lives: a Node app's IPC channel among them.
    std::vector<int> fds;
  };

  explicit FakeProcessOps(boost::asio::io_context& io) : io_(io) {}
  ~FakeProcessOps() override {
    for (auto& [pid, p] : procs) close_fds(p);
  }
  FakeProcessOps(const FakeProcessOps&) = delete;
  FakeProcessOps& operator=(const FakeProcessOps&) = delete;

  // Behaviour of the next spawns.
  bool ignore_signals = false;                        ///< new processes ignore all but SIGKILL
  std::optional<std::pair<int, std::string>> fail_exec;  ///< (errno, step) for every exec
  bool fail_fork = false;
  /// Exec reports of the next spawns wait until report_exec(pid) (or the process's end), as
  /// under CPU contention a child may take long to reach its exec.
  bool hold_exec_reports = false;

  std::map<pid_t, Proc> procs;
  std::vector<pid_t> spawned;  ///< pids in spawn order
  std::map<pid_t, bool> leaders;

  bool kill_rest_kills = false;
  int kill_rest_misses = 0;
  std::size_t kill_rest_calls = 0;
  /// Calls of members(): each is a look at the system (a /proc scan in the fallback).
  std::size_t member_queries = 0;

  /// A live process started by leader's process (same unique_id, so a member of its instance)
  /// that its own parent reaps, not pmxd; it outlives the leader and, with ignores_signals, any
  /// signal but SIGKILL. Returns its pid.
  pid_t add_descendant(pid_t leader, bool ignores_signals = false) {
    const pid_t pid = next_pid_++;
    Proc p;
    p.request = procs.at(leader).request;
    p.start = next_start_++;
    p.child = false;
    p.ignores_signals = ignores_signals;
    procs[pid] = p;
    return pid;
  }
  /// How many member watches are set (watch_members not yet forgotten).
  std::size_t member_watches() const { return member_watches_.size(); }

  /// A live process pid that is not our child, as a crashed pmxd leaves its apps.
  void add_foreign(pid_t pid, std::uint64_t start) {
    Proc p;
    p.start = start;
    p.child = false;
    procs[pid] = p;
  }

  /// Ends pid with exit; the supervisor hears of it from the loop (SIGCHLD, or the pidfd of an
  /// adopted process).
  void end(pid_t pid, ExitStatus exit) {
    Proc& p = procs.at(pid);
    if (p.ending || !p.alive) return;
    p.ending = true;
    boost::asio::post(io_, [this, pid, exit] {
      report_exec(pid);  // the real layer reads the report before the exit is handled
      Proc& p = procs.at(pid);
      p.alive = false;
      close_fds(p);  // as the kernel closes a process's fds at its end
      if (p.child) {
        on_exit_(pid, exit);
        after_batch_();
      } else if (auto w = watches_.find(pid); w != watches_.end()) {
        ExitHandler h = std::move(w->second);
        watches_.erase(w);
        ExitStatus unknown;
        unknown.unknown = true;
        h(pid, unknown);
      }
      // The pidfd of a watched member becomes readable.
      std::vector<std::function<void()>> calls;
      for (auto& [key, watch] : member_watches_) {
        if (watch.first.erase(pid)) calls.push_back(watch.second);
      }
      for (auto& call : calls) call();
    });
  }
  void exit_code(pid_t pid, int code) {
    ExitStatus e;
    e.code = code;
    end(pid, e);
  }
  /// Writes line and a newline on pid's Node IPC channel (NODE_CHANNEL_FD), as process.send()
  /// with JSON serialization does; false when pid has no channel.
  bool send_on_channel(pid_t pid, const std::string& line) {
    const int fd = channel_fd(pid);
    if (fd < 0) return false;
    const std::string text = line + "\n";
    return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  /// What pmxd has written to pid's channel so far, read without waiting.
  std::string read_channel(pid_t pid) {
    const int fd = channel_fd(pid);
    std::string out;
    char buf[4096];
    for (ssize_t n; fd >= 0 && (n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  /// Delivers pid's held exec report (success); false when none was held.
  bool report_exec(pid_t pid) {
    auto it = held_reports_.find(pid);
    if (it == held_reports_.end()) return false;
    ExecReport report = std::move(it->second);
    held_reports_.erase(it);
    report(0, "");
    return true;
  }
  /// Spawns whose exec report is held (forked, exec not yet reported).
  std::vector<pid_t> unreported() const {
    std::vector<pid_t> out;
    for (const auto& [pid, report] : held_reports_) out.push_back(pid);
    return out;
  }
  /// The last pid spawned (0 when none).
  pid_t last() const { return spawned.empty() ? 0 : spawned.back(); }
  bool alive(pid_t pid) const {
    auto it = procs.find(pid);
    return it != procs.end() && it->second.alive;
  }

  bool cgroups() const override { return false; }
  std::string cgroup_root() const override { return ""; }
  std::vector<std::string> stale_cgroups() const override { return {}; }

  void start_reaping(ExitHandler on_exit, std::function<void()> after_batch) override {
    on_exit_ = std::move(on_exit);
    after_batch_ = std::move(after_batch);
  }

  Result<pid_t> spawn(SpawnRequest request, const std::string&, ExecReport report) override {
    if (fail_fork) return Error{"fork failed: Resource temporarily unavailable"};
    const pid_t pid = next_pid_++;
    Proc p;
    p.request = std::move(request);
    p.start = next_start_++;
    p.ignores_signals = ignore_signals;
    for (int fd : p.request.inherited_fds) p.fds.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    procs[pid] = p;
    spawned.push_back(pid);
    const auto failure = fail_exec;
    if (hold_exec_reports && !failure) {
      held_reports_[pid] = std::move(report);
      return pid;
    }
    boost::asio::post(io_, [report = std::move(report), failure] {
      if (failure) report(failure->first, failure->second);
      else report(0, "");
    });
    if (failure) exit_code(pid, failure->first == EACCES ? 126 : 127);
    return pid;
  }

  void signal_all(const Membership& m, int sig) override { send(m.leader, sig); }
  bool signal_leader(pid_t pid, int sig) override { return send(pid, sig); }
  /// With kill_rest_kills, kill_rest SIGKILLs the members other than the leader, except for
  /// its first kill_rest_misses calls, which find none (the kernel had not yet reparented
  /// them where a /proc scan looks).
  std::size_t kill_rest(const Membership& m) override {
    ++kill_rest_calls;
    if (!kill_rest_kills) return 0;
    if (kill_rest_misses > 0) {
      --kill_rest_misses;
      return 0;
    }
    std::size_t killed = 0;
    for (pid_t pid : find_members(m)) {
      if (pid == m.leader || procs.at(pid).ending) continue;
      ExitStatus e;
      e.signal = SIGKILL;
      end(pid, e);
      ++killed;
    }
    return killed;
  }
  std::vector<pid_t> members(const Membership& m) override {
    ++member_queries;
    return find_members(m);
  }
  bool watch_members(int key, const Membership& m, const std::vector<std::string>&,
                     std::function<void()> on_change) override {
    const std::vector<pid_t> now = find_members(m);
    member_watches_[key] = {std::set<pid_t>(now.begin(), now.end()), std::move(on_change)};
    return true;
  }
  void forget_members(int key) override { member_watches_.erase(key); }
  Usage usage(const Membership& m) override {
    Usage u;
    if (m.leader > 0 && alive(m.leader)) {
      u.rss_bytes = procs.at(m.leader).rss;
      u.processes = 1;
    }
    return u;
  }

  std::string create_cgroup(const std::string&, std::error_code& ec) override {
    ec.clear();
    return "";
  }
  bool remove_cgroup(const std::string&) override { return true; }

  void set_leader(pid_t pid, bool alive) override { leaders[pid] = alive; }
  std::uint64_t start_ticks(pid_t pid) override { return alive(pid) ? procs.at(pid).start : 0; }
  bool watch_exit(pid_t pid, std::uint64_t start, ExitHandler on_exit) override {
    if (start_ticks(pid) == 0 || start_ticks(pid) != start) return false;
    watches_[pid] = std::move(on_exit);
    return true;
  }
  void forget_watch(pid_t pid) override { watches_.erase(pid); }

 private:
  static void close_fds(Proc& p) {
    for (int fd : p.fds) {
      if (fd >= 0) ::close(fd);
    }
    p.fds.clear();
  }
  /// pid's end of its Node channel, -1 when it has none (or has ended).
  int channel_fd(pid_t pid) const {
    auto it = procs.find(pid);
    if (it == procs.end()) return -1;
    static const std::string key = "NODE_CHANNEL_FD=";
    for (const auto& e : it->second.request.env) {
      if (e.compare(0, key.size(), key) != 0) continue;
      const std::size_t index = std::stoul(e.substr(key.size())) - 3;
      return index < it->second.fds.size() ? it->second.fds[index] : -1;
    }
    return -1;
  }

  /// The leader while alive, and every live process that carries m's unique_id.
  std::vector<pid_t> find_members(const Membership& m) const {
    std::vector<pid_t> out;
    for (const auto& [pid, p] : procs) {
      if (!p.alive) continue;
      if ((m.leader > 0 && pid == m.leader) || (!m.unique_id.empty() && marker(p) == m.unique_id)) out.push_back(pid);
    }
    return out;
  }
  static std::string marker(const Proc& p) {
    static const std::string key = "unique_id=";
    for (const auto& e : p.request.env) {
      if (e.compare(0, key.size(), key) == 0) return e.substr(key.size());
    }
    return "";
  }

  bool send(pid_t pid, int sig) {
    auto it = procs.find(pid);
    if (pid <= 0 || it == procs.end() || !it->second.alive) return false;
    it->second.signals.push_back(sig);
    if (sig == SIGKILL || !it->second.ignores_signals) {
      ExitStatus e;
      e.signal = sig;
      end(pid, e);
    }
    return true;
  }

  boost::asio::io_context& io_;
  ExitHandler on_exit_;
  std::function<void()> after_batch_;
  std::map<pid_t, ExitHandler> watches_;
  std::map<pid_t, ExecReport> held_reports_;
  std::map<int, std::pair<std::set<pid_t>, std::function<void()>>> member_watches_;
  static inline pid_t next_pid_ = 1000;  ///< shared: two fakes in a row never hand out the same pid
  std::uint64_t next_start_ = 5000;
};

}  // namespace pmx::daemon::testing
