// spawn: a child (clone3 into the cgroup) + exec with a close-on-exec error pipe (systemd exec_fd,
// tini); pmxd never waits for its child. On x86-64 the child shares pmxd's memory until its exec
// (CLONE_VM without CLONE_VFORK, on a stack of its own), as posix_spawn's does but without
// suspending pmxd: no copy of pmxd's page tables, and none of the copy-on-write faults pmxd
// took after each fork on every page it wrote. Elsewhere it is a fork.
#include "daemon/process/spawn.hpp"

#include "config/paths.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <algorithm>
#include <memory>

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace pmx::daemon {
namespace {

// The child's code runs in a copy of a process with threads (the workers): no sanitizer
// bookkeeping there, only async-signal-safe calls on data prepared before the fork.
#define PMX_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

// One record of the exec-report pipe (16 bytes: a pipe write of it is never split). The child
// writes {kExecStarts, 0, its boot-clock time} just before execve, then {step, errno, 0} if a
// step fails; the pipe closes at a successful exec.
struct ChildError {
  int step;  // 0 exec, 1 chdir, 2 cgroup, 3 setuid/setgid, 4 fds from 3 on; kExecStarts
  int err;
  std::int64_t exec_at_ns;  // with kExecStarts: CLOCK_BOOTTIME at the execve
};
constexpr int kExecStarts = -1;

ExecFailure failure_of(const ChildError& e) {
  static const char* const kSteps[] = {"exec", "chdir", "cgroup", "setuid/setgid", "inherited fds"};
  return ExecFailure{e.err, e.step >= 0 && e.step < 5 ? kSteps[e.step] : "exec"};
}

/// The most fds one app is given from 3 on (its listening sockets and Node's channel).
constexpr int kMaxInheritedFds = 64;

// clone3(2)'s argument, as in <linux/sched.h> (declared here: that header clashes with <sched.h>).
struct CloneArgs {
  std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;

/// Everything the child needs, prepared before the fork: it reads this and calls the kernel.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;           ///< nullptr: stay in pmxd's
  int stdout_fd, stderr_fd;
  const int* inherited_fds;  ///< to become fds 3..
  int inherited_count;
  char* listen_pid;          ///< the digits of the LISTEN_PID=... entry of envp, or nullptr
  int devnull;               ///< stdin (-1: none)
  int err_pipe;              ///< write end of the exec-report pipe
  int report_fd;             ///< where that pipe is kept across the fd plan
  int procs_fd;              ///< cgroup.procs to join by hand (-1: born in the cgroup, or none)
  const int* join_fds;       ///< cgroup v1 cgroup.procs files to join (limits on hybrid hosts)
  int join_count;
  bool drop;                 ///< switch credentials
  std::optional<uid_t> uid;
  gid_t gid;
  const gid_t* groups;
  std::size_t group_count;
};

#if defined(__x86_64__)
#define PMX_SHARED_MEMORY_CHILD 1
/// A system call that returns -errno and never writes errno. A child that shares pmxd's memory
/// also shares the thread pointer, so libc's errno in it would be pmxd's main thread's: every
/// call the child makes goes through raw_call.
PMX_CHILD_CODE inline long raw_call(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}

// clone3 with a stack of the child's own: the child starts on it inside this function, where
// nothing of the caller's frame is needed, calls fn(arg) and exits with what it returns (libc's
// clone() does the same for clone(2), which cannot put the child into a cgroup).
// long clone3_on_stack(CloneArgs* args, size_t size, int (*fn)(void*), void* arg)
extern "C" long pmx_clone3_on_stack(void* args, unsigned long size, int (*fn)(void*), void* arg);
static_assert(SYS_clone3 == 435 && SYS_exit_group == 231, "x86-64 system call numbers");
__asm__(R"(
  .pushsection .text
  .p2align 4
  .type pmx_clone3_on_stack,@function
pmx_clone3_on_stack:
  endbr64
  mov %rcx, %r8
  mov $435, %eax
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  xor %ebp, %ebp
  mov %r8, %rdi
  call *%rdx
  mov %eax, %edi
  mov $231, %eax
  syscall
  hlt
  .size pmx_clone3_on_stack, .-pmx_clone3_on_stack
  .popsection
)");
#else
#define PMX_SHARED_MEMORY_CHILD 0
/// A system call that returns -errno (a forked child has errno of its own).
PMX_CHILD_CODE inline long raw_call(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  const long r = syscall(n, a, b, c, d, e, f);
  return r < 0 ? -errno : r;
}
#endif

template <typename T>
PMX_CHILD_CODE inline long raw_arg(T* p) {
  return reinterpret_cast<long>(p);
}

[[noreturn]] PMX_CHILD_CODE void child_fail(int pipe_fd, int step, int err) {
  ChildError e{step, err, 0};
  raw_call(SYS_write, pipe_fd, raw_arg(&e), sizeof e);
  raw_call(SYS_exit_group, err == EACCES ? 126 : 127);
  __builtin_unreachable();
}

/// fd as newfd, close-on-exec cleared (dup2 without libc; dup3 refuses fd == newfd).
PMX_CHILD_CODE long move_fd(int fd, int newfd) {
  if (fd == newfd) return raw_call(SYS_fcntl, fd, F_SETFD, 0);
  return raw_call(SYS_dup3, fd, newfd, 0);
}

/// Writes n in decimal at out, NUL-terminated (out has room for 20 digits).
PMX_CHILD_CODE void write_decimal(char* out, long n) {
  char digits[24];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (len > 0) *out++ = digits[--len];
  *out = '\0';
}

/// Closes fds lowest..highest.
PMX_CHILD_CODE void close_range_of(unsigned lowest, unsigned highest) {
#ifdef SYS_close_range
  if (raw_call(SYS_close_range, lowest, highest, 0) == 0) return;
#endif
  for (unsigned fd = lowest; fd <= highest && fd < 65536; ++fd) raw_call(SYS_close, static_cast<int>(fd));
}

/// The kernel's struct sigaction (rt_sigaction(2)) on x86-64.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

/// Every disposition back to the default, then every signal unblocked: from here a signal
/// aimed at the child meets the child, never pmxd's handlers.
PMX_CHILD_CODE void reset_signals() {
#if !PMX_SHARED_MEMORY_CHILD
  // A forked child has its own errno: libc's calls, whatever the kernel's struct is here.
  struct sigaction libc_dfl{};
  libc_dfl.sa_handler = SIG_DFL;
  sigemptyset(&libc_dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &libc_dfl, nullptr);
  }
  sigset_t all_unblocked;
  sigemptyset(&all_unblocked);
  sigprocmask(SIG_SETMASK, &all_unblocked, nullptr);
#else
  KernelSigaction dfl{};
  dfl.handler = SIG_DFL;
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) raw_call(SYS_rt_sigaction, sig, raw_arg(&dfl), 0, sizeof dfl.mask);
  }
  unsigned long none = 0;
  raw_call(SYS_rt_sigprocmask, SIG_SETMASK, raw_arg(&none), 0, sizeof none);
#endif
}

/// The child, from the clone to the exec: system calls only (raw_call), on data prepared before the
/// clone, which pmxd keeps as it is until the child is past its exec (ChildImage).
PMX_CHILD_CODE int child_main(void* arg_ptr) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(arg_ptr);
  reset_signals();
  if (p.procs_fd >= 0) {
    if (const long r = raw_call(SYS_write, p.procs_fd, raw_arg("0\n"), 2); r < 0) child_fail(p.err_pipe, 2, static_cast<int>(-r));
  }
  for (int i = 0; i < p.join_count; ++i) {
    if (const long r = raw_call(SYS_write, p.join_fds[i], raw_arg("0\n"), 2); r < 0) child_fail(p.err_pipe, 2, static_cast<int>(-r));
  }
  raw_call(SYS_setsid);
  if (p.devnull >= 0) move_fd(p.devnull, 0);
  move_fd(p.stdout_fd, 1);
  move_fd(p.stderr_fd, 2);
  // The fd plan: 0-2 stdio, the listening sockets and Node's channel at 3.., nothing else but
  // the exec-error pipe at its high fd (close-on-exec).
  if (p.err_pipe != p.report_fd && raw_call(SYS_dup3, p.err_pipe, p.report_fd, O_CLOEXEC) < 0) raw_call(SYS_exit_group, 127);
  const int first_free = 3 + p.inherited_count;
  if (p.inherited_count > 0) {
    // Each fd goes out of the way first (one may sit where another must go), then down into
    // place, close-on-exec cleared. The copies above are closed below.
    int moved[kMaxInheritedFds];
    for (int i = 0; i < p.inherited_count; ++i) {
      const long r = raw_call(SYS_fcntl, p.inherited_fds[i], F_DUPFD_CLOEXEC, first_free);
      if (r < 0) child_fail(p.report_fd, 4, static_cast<int>(-r));
      moved[i] = static_cast<int>(r);
    }
    for (int i = 0; i < p.inherited_count; ++i) {
      if (const long r = move_fd(moved[i], 3 + i); r < 0) child_fail(p.report_fd, 4, static_cast<int>(-r));
    }
  }
  if (p.listen_pid) write_decimal(p.listen_pid, raw_call(SYS_getpid));
  close_range_of(static_cast<unsigned>(first_free), static_cast<unsigned>(p.report_fd) - 1);
  close_range_of(static_cast<unsigned>(p.report_fd) + 1, ~0U);
  // Drop privileges last: the group list, then the group, then the user.
  if (p.drop) {
    long r = raw_call(SYS_setgroups, static_cast<long>(p.group_count), raw_arg(p.groups));
    if (r == 0) r = raw_call(SYS_setgid, p.gid);
    if (r < 0) child_fail(p.report_fd, 3, static_cast<int>(-r));
  }
  if (p.uid) {
    if (const long r = raw_call(SYS_setuid, *p.uid); r < 0) child_fail(p.report_fd, 3, static_cast<int>(-r));
  }
  if (p.cwd) {
    if (const long r = raw_call(SYS_chdir, raw_arg(p.cwd)); r < 0) child_fail(p.report_fd, 1, static_cast<int>(-r));
  }
  // The app's own start, for its uptime: a child starved of CPU may take seconds to get here.
  struct timespec now{};
  raw_call(SYS_clock_gettime, CLOCK_BOOTTIME, raw_arg(&now));
  const ChildError starts{kExecStarts, 0, static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec};
  raw_call(SYS_write, p.report_fd, raw_arg(&starts), sizeof starts);
  const long r = raw_call(SYS_execve, raw_arg(p.program), raw_arg(p.argv), raw_arg(p.envp));
  child_fail(p.report_fd, 0, static_cast<int>(-r));
}

/// Where the child keeps the exec-error pipe: high, out of the way of the fds an app is given
/// (stdio, then listening sockets from 3), and below the fd limit. exec closes it.
int exec_report_fd() {
  struct rlimit rl{};
  rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
  return static_cast<int>(std::min<rlim_t>(limit, 1024) - 1);
}

/// The stack of a child that shares pmxd's memory: 64 KiB above a guard page.
class ChildStack {
 public:
  ChildStack() {
    void* base = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return;
    base_ = base;
    if (mprotect(base_, kGuard, PROT_NONE) != 0) {
      munmap(base_, kSize);
      base_ = nullptr;
    }
  }
  ~ChildStack() {
    if (base_) munmap(base_, kSize);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;

  bool usable() const { return base_ != nullptr; }
  std::uint64_t base() const { return reinterpret_cast<std::uint64_t>(base_); }
  static constexpr std::size_t kSize = 64 * 1024;
  static constexpr std::size_t kGuard = 4096;

 private:
  void* base_ = nullptr;
};

/// Everything the child reads, and LISTEN_PID's digits, which it writes, until its exec. A
/// child that shares pmxd's memory reads them in place, so pmxd keeps them, unchanged, until
/// the child is past its exec or gone: its report pipe has closed (watch_exec). The stack it
/// runs on is here too.
struct ChildImage {
  SpawnRequest request;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<gid_t> groups;
  char listen_pid[sizeof "LISTEN_PID=" + 24] = "LISTEN_PID=";
  ChildPlan plan{};
#if PMX_SHARED_MEMORY_CHILD
  ChildStack stack;
#endif
};

/// Starts the child: in its cgroup from birth where the kernel can (joining a cgroup later
/// costs an RCU grace period), else by a plain fork that joins by itself. On x86-64 it shares
/// pmxd's memory (image) and runs on its own stack; pmxd goes on at once and never waits for
/// anything the child does (a cwd on a hung NFS mount, a program read from one); how its exec
/// went comes back through the report pipe. -1 with errno when no child was made
/// (cgroup_failed: it could not be put into its cgroup).
pid_t start_child(ChildImage& image, bool& cgroup_failed) {
  ChildPlan& plan = image.plan;
  const int cgroup_dir_fd = image.request.cgroup_dir_fd;
#if PMX_SHARED_MEMORY_CHILD
  if (image.stack.usable()) {
    CloneArgs args{};
    args.exit_signal = SIGCHLD;
    args.flags = CLONE_VM | (cgroup_dir_fd >= 0 ? kCloneIntoCgroup : 0);
    args.cgroup = cgroup_dir_fd >= 0 ? static_cast<std::uint64_t>(cgroup_dir_fd) : 0;
    args.stack = image.stack.base();
    args.stack_size = ChildStack::kSize;
    const long pid = pmx_clone3_on_stack(&args, sizeof args, child_main, &plan);
    if (pid > 0) return static_cast<pid_t>(pid);
    // A kernel without clone3 (or refusing this use of it): a copy, as below.
  }
#endif
  if (cgroup_dir_fd >= 0) {
    CloneArgs args{};
    args.exit_signal = SIGCHLD;
    args.flags = kCloneIntoCgroup;
    args.cgroup = static_cast<std::uint64_t>(cgroup_dir_fd);
    const auto pid = static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
    if (pid == 0) child_main(&plan);
    if (pid >= 0) return pid;
    // An older kernel: born outside, the child joins by itself. Without cgroup.procs it could
    // not: no child at all rather than one outside its cgroup (out of reach of a stop).
    plan.procs_fd = openat(cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (plan.procs_fd < 0) {
      cgroup_failed = true;
      return -1;
    }
  }
  const pid_t pid = fork();
  if (pid == 0) child_main(&plan);
  return pid;
}

}  // namespace

namespace {

/// A passwd or group entry and the buffer its strings live in (the reentrant lookups: a
/// worker thread resolves credentials while the loop may look up a user name for `describe`).
template <typename Entry>
struct Lookup {
  Entry entry{};
  std::vector<char> buffer = std::vector<char>(4096);
  Entry* found = nullptr;

  /// Calls lookup(&entry, buffer, size, &found) with a growing buffer; found stays null when
  /// there is no such entry or the lookup failed.
  template <typename Fn>
  void run(Fn lookup) {
    for (;;) {
      const int err = lookup(&entry, buffer.data(), buffer.size(), &found);
      if (err != ERANGE || buffer.size() >= 1024 * 1024) return;
      buffer.resize(buffer.size() * 2);
    }
  }
};

// The groups a process of uid gets (initgroups(3) computed before fork): the user's groups
// when uid has a passwd entry, else gid alone, never root's list by inheritance.
std::vector<gid_t> supplementary_groups(std::optional<uid_t> uid, gid_t gid) {
  if (!uid) return {gid};
  Lookup<passwd> pw;
  pw.run([&](passwd* e, char* b, std::size_t n, passwd** r) { return getpwuid_r(*uid, e, b, n, r); });
  if (!pw.found || !pw.found->pw_name) return {gid};
  int n = 16;
  std::vector<gid_t> groups;
  for (;;) {
    groups.resize(static_cast<std::size_t>(n));
    int count = n;
    if (getgrouplist(pw.found->pw_name, gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<std::size_t>(count));
      return groups;
    }
    if (count <= n) return {gid};  // the lookup failed, not the size
    n = count;
  }
}

}  // namespace

std::string find_program(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  std::string found = config::find_in_path(name, path);
  return found.empty() ? name : found;
}

SpawnResult spawn(SpawnRequest request) {
  SpawnResult result;
  if (request.inherited_fds.size() > static_cast<std::size_t>(kMaxInheritedFds)) {
    result.fork_error = std::make_error_code(std::errc::argument_list_too_long);
    return result;
  }
  auto image = std::make_shared<ChildImage>();
  image->request = std::move(request);
  const SpawnRequest& req = image->request;
  ChildImage& im = *image;
  for (const auto& a : req.argv) im.argv.push_back(const_cast<char*>(a.c_str()));
  im.argv.push_back(nullptr);
  for (const auto& e : req.env) im.envp.push_back(const_cast<char*>(e.c_str()));
  // LISTEN_PID is the child's own pid: the child writes it into this entry before its exec.
  if (req.listen_pid) im.envp.push_back(im.listen_pid);
  im.envp.push_back(nullptr);
  // A uid without a group of its own gets its own number as gid: never root's group.
  const bool drop = req.uid || req.gid;
  const gid_t gid = req.gid ? *req.gid : req.uid ? static_cast<gid_t>(*req.uid) : getgid();
  if (drop) im.groups = req.groups ? *req.groups : supplementary_groups(req.uid, gid);

  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    result.fork_error = {errno, std::generic_category()};
    return result;
  }
  ChildPlan& plan = im.plan;
  plan.program = req.program.c_str();
  plan.argv = im.argv.data();
  plan.envp = im.envp.data();
  plan.cwd = req.cwd.empty() ? nullptr : req.cwd.c_str();
  plan.stdout_fd = req.stdout_fd;
  plan.stderr_fd = req.stderr_fd;
  plan.inherited_fds = req.inherited_fds.data();
  plan.inherited_count = static_cast<int>(req.inherited_fds.size());
  plan.listen_pid = req.listen_pid ? im.listen_pid + sizeof "LISTEN_PID=" - 1 : nullptr;
  plan.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  plan.err_pipe = err_pipe[1];
  plan.report_fd = exec_report_fd();
  plan.procs_fd = -1;
  plan.join_fds = req.join_procs_fds.data();
  plan.join_count = static_cast<int>(req.join_procs_fds.size());
  plan.drop = drop;
  plan.uid = req.uid;
  plan.gid = gid;
  plan.groups = im.groups.data();
  plan.group_count = im.groups.size();

  // Until the child has reset every handler, a signal sent to it would run pmxd's handler,
  // which writes into pmxd's own signal pipe: pmxd would believe it got that signal. Blocked,
  // such a signal waits in the child and meets the default disposition.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = start_child(im, result.cgroup_failed);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  // The child has its own table of descriptors: pmxd's copies go.
  close(err_pipe[1]);
  if (plan.devnull >= 0) close(plan.devnull);
  if (plan.procs_fd >= 0) close(plan.procs_fd);
  if (pid < 0) {
    result.fork_error = {fork_errno, std::generic_category()};
    close(err_pipe[0]);
    return result;
  }
  result.pid = pid;
  // The child runs on its own: its report (or the pipe's close at its exec) is read from the
  // loop (watch_exec), and before its exit is handled (ExecWatch::flush).
  result.exec_report_fd = err_pipe[0];
  result.child_memory = std::move(image);
  return result;
}

Result<Credentials> resolve_credentials(const std::string& user, const std::string& group_name) {
  Credentials c;
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!user.empty()) {
    Lookup<passwd> pw;
    if (numeric(user)) {
      const auto id = static_cast<uid_t>(std::stoul(user));
      pw.run([&](passwd* e, char* b, std::size_t n, passwd** r) { return getpwuid_r(id, e, b, n, r); });
    } else {
      pw.run([&](passwd* e, char* b, std::size_t n, passwd** r) { return getpwnam_r(user.c_str(), e, b, n, r); });
    }
    if (!pw.found && !numeric(user)) return Error{"option 'uid': no user named '" + user + "'"};
    c.uid = pw.found ? pw.found->pw_uid : static_cast<uid_t>(std::stoul(user));
    if (pw.found) {
      c.gid = pw.found->pw_gid;  // the user's primary group unless gid says otherwise
      c.home = pw.found->pw_dir ? pw.found->pw_dir : "";
    } else {
      c.gid = static_cast<gid_t>(*c.uid);  // no group known: the uid's own number, not root's
    }
  }
  if (!group_name.empty()) {
    Lookup<struct group> gr;
    if (numeric(group_name)) {
      const auto id = static_cast<gid_t>(std::stoul(group_name));
      gr.run([&](struct group* e, char* b, std::size_t n, struct group** r) { return getgrgid_r(id, e, b, n, r); });
    } else {
      gr.run([&](struct group* e, char* b, std::size_t n, struct group** r) {
        return getgrnam_r(group_name.c_str(), e, b, n, r);
      });
    }
    if (!gr.found && !numeric(group_name)) return Error{"option 'gid': no group named '" + group_name + "'"};
    c.gid = gr.found ? gr.found->gr_gid : static_cast<gid_t>(std::stoul(group_name));
  }
  if (c.uid || c.gid) c.groups = supplementary_groups(c.uid, *c.gid);
  return c;
}

std::string describe_exec_failure(int err, const std::string& step, const std::string& program,
                                  const std::string& cwd) {
  const std::string why = std::strerror(err);
  if (step == "chdir") return "cannot change to the app's cwd " + cwd + " (for " + program + "): " + why;
  if (step == "cgroup") return "cannot join the instance's cgroup (for " + program + "): " + why;
  if (step == "setuid/setgid") return "cannot switch user or group (for " + program + "): " + why;
  if (step == "inherited fds") return "cannot give the app its sockets (for " + program + "): " + why;
  return "cannot execute " + program + ": " + why;
}

std::function<void()> watch_exec(boost::asio::io_context& io, int fd, ExecReport done, ExecStartTime started,
                                 std::shared_ptr<const void> child_memory) {
  // The pipe is read by this code only (Asio just waits for it to be readable), so whichever
  // comes first, the loop's wait or flush() at the reaping, finds the report whole. The pipe is
  // read until it closes, also after a failure's report: only then is a child that shares
  // pmxd's memory off it (the kernel closes the pipe after the exec has replaced the child's
  // memory, or at its exit after it let go of it), and its memory can go.
  struct Watch : std::enable_shared_from_this<Watch> {
    Watch(boost::asio::io_context& io, int fd, ExecReport d, ExecStartTime s, std::shared_ptr<const void> m)
        : pipe(io, fd), done(std::move(d)), started(std::move(s)), child_memory(std::move(m)) {}
    boost::asio::posix::stream_descriptor pipe;
    ExecReport done;
    ExecStartTime started;
    std::shared_ptr<const void> child_memory;
    bool delivered = false;
    bool closed = false;

    void deliver(int err, const std::string& step) {
      if (delivered) return;
      delivered = true;
      done(err, step);
    }
    /// The pipe has closed (or the child is gone): success unless a failure was reported.
    void close() {
      closed = true;
      child_memory.reset();
      boost::system::error_code ignored;
      pipe.close(ignored);
      deliver(0, "");
    }
    /// Reads what the pipe holds; false while it is still open.
    bool drain() {
      while (!closed) {
        ChildError report{};
        const ssize_t n = ::read(pipe.native_handle(), &report, sizeof report);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return false;
        if (n == static_cast<ssize_t>(sizeof report) && report.step == kExecStarts) {
          if (started && !delivered) started(static_cast<std::uint64_t>(std::max<std::int64_t>(report.exec_at_ns, 0)));
          continue;  // its exec may still fail: the outcome is the next record or the close
        }
        if (n == static_cast<ssize_t>(sizeof report)) {
          const ExecFailure f = failure_of(report);
          deliver(f.err, f.step);
          continue;  // the close follows at its exit
        }
        close();  // closed by exec (success) or exit
      }
      return true;
    }
    void wait() {
      pipe.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (self->closed) return;
                        if (ec && ec != boost::asio::error::operation_aborted) return self->close();
                        if (!self->drain()) self->wait();
                      });
    }
  };
  auto w = std::make_shared<Watch>(io, fd, std::move(done), std::move(started), std::move(child_memory));
  boost::system::error_code ignored;
  w->pipe.non_blocking(true, ignored);
  w->wait();
  return [w] {
    // The child is gone: its report is in the pipe whole (one write of 16 bytes), or it never
    // wrote one (it exec'd, or was killed before); every writer is gone, so the read cannot wait.
    if (!w->closed && !w->drain()) w->close();
  };
}

}  // namespace pmx::daemon
