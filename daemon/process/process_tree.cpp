// ProcessTree: cgroup v2 membership where possible, /proc parent links and markers elsewhere.
#include "daemon/process/process_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace pmx::daemon {
namespace {

// Reads a small /proc or cgroup file, usually with one read; returns false when it cannot be
// opened. These files are made of whole records: a read that leaves more room than the longest
// record (a stat line, a pid) got everything, so no second read is made to see the end (the
// sampler reads hundreds of these a minute).
bool read_small(const std::string& path, std::string& out, std::size_t cap = 65536) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  constexpr std::size_t kLongestRecord = 1024;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() >= cap || static_cast<std::size_t>(n) < sizeof buf - kLongestRecord) break;
  }
  close(fd);
  return true;
}

// The raw system calls: glibc 2.36's <sys/pidfd.h> lacks extern "C" and does not link from C++.
int pidfd_open(pid_t pid, unsigned flags) { return static_cast<int>(syscall(SYS_pidfd_open, pid, flags)); }
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

// Sends sig to pid through a pidfd, once still_ours() confirms the pid still names the process
// we mean. The pidfd is opened first: if its process is still alive when the signal goes, the
// check read that very process; if it died meanwhile, the signal fails and nobody else gets it.
template <typename Check>
void signal_checked(pid_t pid, int sig, Check still_ours) {
  int fd = pidfd_open(pid, 0);
  if (fd < 0) {
    if (errno == ENOSYS && still_ours()) kill(pid, sig);  // a kernel before 5.3: best effort
    return;
  }
  if (still_ours()) pidfd_send_signal(fd, sig, nullptr, 0);
  close(fd);
}

// The cgroup v2 path of pid ("/a/b" from "0::/a/b"), "" when unreadable.
std::string cgroup_of(pid_t pid) {
  std::string text;
  if (!read_small("/proc/" + std::to_string(pid) + "/cgroup", text)) return "";
  std::size_t at = text.find("0::");
  if (at != 0 && (at = text.find("\n0::")) != std::string::npos) ++at;
  if (at == std::string::npos) return "";
  std::size_t end = text.find('\n', at);
  return text.substr(at + 3, end == std::string::npos ? std::string::npos : end - at - 3);
}

// The value of unique_id= in a process's environment, "" when absent or unreadable.
std::string read_marker(pid_t pid) {
  static const std::string key = "unique_id=";
  std::string text;
  if (!read_small("/proc/" + std::to_string(pid) + "/environ", text, 1 << 20)) return "";
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, key.size(), key) == 0) return text.substr(start + key.size(), end - start - key.size());
    start = end + 1;
  }
  return "";
}

std::vector<pid_t> read_cgroup_procs(const std::string& cgroup) {
  std::vector<pid_t> pids;
  std::string text;
  if (!read_small(cgroup + "/cgroup.procs", text, 1 << 20)) return pids;
  std::istringstream in(text);
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

// The cgroup v2 mount point, or "" when there is none.
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return dir;
  }
  return "";
}

// The daemon's own cgroup v2 path relative to the mount ("0::/path").
std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

}  // namespace

bool read_proc_stat(pid_t pid, ProcSnapshot::Proc& p, bool zombies) {
  std::string text;
  if (!read_small("/proc/" + std::to_string(pid) + "/stat", text)) return false;
  auto rparen = text.rfind(')');
  if (rparen == std::string::npos || rparen + 2 >= text.size()) return false;
  const char* s = text.c_str() + rparen + 2;
  char state = *s;
  if (!zombies && (state == 'Z' || state == 'X')) return false;
  // Fields after the state, numbered as in proc(5): 4 ppid, 5 pgrp, 14 utime, 15 stime,
  // 22 starttime, 24 rss.
  unsigned long long f[25] = {};
  int field = 3;
  const char* p_ = s + 1;
  while (*p_ && field < 24) {
    while (*p_ == ' ') ++p_;
    ++field;
    char* end = nullptr;
    long long v = std::strtoll(p_, &end, 10);
    f[field] = static_cast<unsigned long long>(v < 0 ? 0 : v);
    if (end == p_) break;
    p_ = end;
  }
  p.ppid = static_cast<pid_t>(f[4]);
  p.pgid = static_cast<pid_t>(f[5]);
  p.ticks = f[14] + f[15];
  p.start_time = f[22];
  p.rss_pages = f[24];
  return true;
}

pid_t parent_of(pid_t pid) {
  ProcSnapshot::Proc p;
  return read_proc_stat(pid, p, true) ? p.ppid : 0;
}

std::optional<MarkedRun> find_marked_run(const std::string& unique_id) {
  if (unique_id.empty()) return std::nullopt;
  const ProcSnapshot snap = ProcSnapshot::take();
  std::optional<MarkedRun> found;
  for (const auto& [pid, p] : snap.procs()) {
    if (snap.marker_of(pid) != unique_id) continue;
    const bool parent_marked = snap.procs().count(p.ppid) && snap.marker_of(p.ppid) == unique_id;
    if (parent_marked || (found && found->start_time <= p.start_time)) continue;
    found = MarkedRun{pid, p.start_time, cgroup_of(pid)};
  }
  return found;
}

bool cgroup_populated(const std::string& dir) {
  std::string text;
  if (!read_small(dir + "/cgroup.events", text)) return false;
  return text.find("populated 1") != std::string::npos;
}

ProcSnapshot ProcSnapshot::take() {
  ProcSnapshot snap;
  DIR* d = opendir("/proc");
  if (!d) return snap;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    Proc p;
    if (read_proc_stat(pid, p)) snap.procs_[pid] = p;
  }
  closedir(d);
  return snap;
}

ProcSnapshot ProcSnapshot::of(const std::vector<pid_t>& pids) {
  ProcSnapshot snap;
  for (pid_t pid : pids) {
    Proc p;
    if (read_proc_stat(pid, p)) snap.procs_[pid] = p;
  }
  return snap;
}

const std::string& ProcSnapshot::marker_of(pid_t pid) const {
  auto it = markers_.find(pid);
  if (it == markers_.end()) it = markers_.emplace(pid, read_marker(pid)).first;
  return it->second;
}

void ProcessTree::set_leader(pid_t pid, bool alive) {
  auto it = leaders_.find(pid);
  if (it != leaders_.end()) {
    if (it->second >= 0) close(it->second);
    leaders_.erase(it);
  }
  if (alive) leaders_[pid] = pidfd_open(pid, 0);  // -1 on kernels without pidfds
}

void ProcessTree::signal_leader(pid_t pid, int sig) const {
  auto it = leaders_.find(pid);
  if (it != leaders_.end() && it->second >= 0) {
    pidfd_send_signal(it->second, sig, nullptr, 0);
  } else {
    kill(pid, sig);  // unreaped, so the pid is still the leader's
  }
}

ProcessTree::ProcessTree(bool use_cgroups, const std::string& name) : self_(getpid()) {
  if (!use_cgroups) return;
  std::string mount = cgroup2_mount();
  if (mount.empty()) return;
  std::string own = own_cgroup();
  std::string base = mount + (own == "/" ? "" : own) + "/" + name;
  if (mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) return;
  // A usable hierarchy lets us create and remove a child and has cgroup.kill (kernel 5.14+).
  std::string probe = base + "/probe";
  if (mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) return;
  struct stat st{};
  bool has_kill = stat((probe + "/cgroup.kill").c_str(), &st) == 0;
  rmdir(probe.c_str());
  if (!has_kill) return;
  root_ = base;
  limits_ = ResourceLimits::probe(root_, name);
  limits_.remove_stale();
  // Cgroups left by an earlier daemon of this home (one that was killed): remove the empty
  // ones; a populated one still holds that daemon's apps, which are left alone.
  if (DIR* d = opendir(base.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
      stale_.push_back(base + "/" + e->d_name);
    }
    closedir(d);
  }
  std::erase_if(stale_, [this](const std::string& dir) { return remove_cgroup(dir); });
}

ProcessTree::~ProcessTree() {
  for (const auto& [pid, fd] : leaders_) {
    if (fd >= 0) close(fd);
  }
  if (!root_.empty()) rmdir(root_.c_str());
  limits_.remove_bases();
}

std::string ProcessTree::create_cgroup(const std::string& leaf, std::error_code& ec) {
  ec.clear();
  if (root_.empty()) return "";
  std::string dir = root_ + "/" + leaf;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    ec = {errno, std::generic_category()};
    return "";
  }
  return dir;
}

bool ProcessTree::remove_cgroup(const std::string& cgroup) const {
  // The run's v1 folders (limits on a hybrid host) first: the v2 cgroup is the one watched,
  // so it goes last, once nothing of the run is left anywhere.
  if (!limits_.remove(cgroup)) return false;
  return cgroup.empty() || rmdir(cgroup.c_str()) == 0 || errno == ENOENT;
}

std::vector<pid_t> ProcessTree::fallback_members(const Membership& m, const ProcSnapshot& snap) const {
  const auto& procs = snap.procs();
  std::set<pid_t> roots;
  if (m.leader > 0) roots.insert(m.leader);
  for (const auto& [pid, p] : procs) {
    if (m.leader > 0 && p.pgid == m.leader) roots.insert(pid);
    // Orphans reparented to pmxd (the subreaper) that still carry the instance's marker.
    if (p.ppid == self_ && !leaders_.count(pid) && !m.unique_id.empty() && snap.marker_of(pid) == m.unique_id) {
      roots.insert(pid);
    }
  }
  // Everything below a root through parent links.
  std::set<pid_t> members;
  for (pid_t r : roots) {
    if (procs.count(r)) members.insert(r);
  }
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, p] : procs) {
      if (!members.count(pid) && members.count(p.ppid)) {
        members.insert(pid);
        grew = true;
      }
    }
  }
  return {members.begin(), members.end()};
}

std::vector<pid_t> ProcessTree::members(const Membership& m, const ProcSnapshot* snapshot) const {
  if (!m.cgroup.empty()) {
    std::vector<pid_t> live;
    for (pid_t pid : read_cgroup_procs(m.cgroup)) {
      ProcSnapshot::Proc p;
      if (read_proc_stat(pid, p)) live.push_back(pid);
    }
    return live;
  }
  if (snapshot) return fallback_members(m, *snapshot);
  ProcSnapshot snap = ProcSnapshot::take();
  return fallback_members(m, snap);
}

void ProcessTree::signal_all(const Membership& m, int sig) const {
  // Each process gets sig exactly once: many programs (Node, most CLIs) take a second SIGINT
  // or SIGTERM as "force quit".
  if (!m.cgroup.empty()) {
    if (sig == SIGKILL) {
      int fd = open((m.cgroup + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        ssize_t n = write(fd, "1", 1);
        close(fd);
        if (n == 1) return;
      }
    }
    for (pid_t pid : read_cgroup_procs(m.cgroup)) {
      if (pid == m.leader) {
        signal_leader(pid, sig);
        continue;
      }
      signal_checked(pid, sig, [&] {
        const std::string path = cgroup_of(pid);
        return !path.empty() && m.cgroup.size() >= path.size() &&
               m.cgroup.compare(m.cgroup.size() - path.size(), path.size(), path) == 0;
      });
    }
    return;
  }
  // Fallback: the leader's process group in one call (safe: the leader is not reaped yet, so
  // neither its pid nor its group id can name anyone else), then every member outside it.
  ProcSnapshot snap = ProcSnapshot::take();
  if (m.leader > 0) kill(-m.leader, sig);
  for (pid_t pid : fallback_members(m, snap)) {
    const ProcSnapshot::Proc& seen = snap.procs().at(pid);
    if (m.leader > 0 && seen.pgid == m.leader) continue;  // the group signal reached it
    if (pid == m.leader) {
      signal_leader(pid, sig);
      continue;
    }
    // A pid from a /proc scan: signal it only if it is still the process the scan classified.
    signal_checked(pid, sig, [&] {
      ProcSnapshot::Proc now;
      return read_proc_stat(pid, now) && now.start_time == seen.start_time;
    });
  }
}

Usage ProcessTree::usage(const Membership& m, const ProcSnapshot* snapshot) const {
  Usage u;
  static const long page = sysconf(_SC_PAGESIZE);
  if (!m.cgroup.empty()) {
    ProcSnapshot snap = ProcSnapshot::of(read_cgroup_procs(m.cgroup));
    for (const auto& [pid, p] : snap.procs()) {
      u.rss_bytes += p.rss_pages * static_cast<std::uint64_t>(page);
      u.cpu_ticks += p.ticks;
      ++u.processes;
    }
    return u;
  }
  ProcSnapshot own;
  if (!snapshot) {
    own = ProcSnapshot::take();
    snapshot = &own;
  }
  for (pid_t pid : fallback_members(m, *snapshot)) {
    const auto& p = snapshot->procs().at(pid);
    u.rss_bytes += p.rss_pages * static_cast<std::uint64_t>(page);
    u.cpu_ticks += p.ticks;
    ++u.processes;
  }
  return u;
}

}  // namespace pmx::daemon
