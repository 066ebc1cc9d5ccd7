// BinaryProbe: posix_spawn (safe from a worker thread), a pipe read with a deadline, a pidfd
// to kill it by (the loop's reaper may reap it first: its status is not needed).
#include "daemon/process/binary_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "daemon/state/unique_fd.hpp"
#include "ipc/version.hpp"

extern char** environ;

namespace pmx::daemon {

Result<int> probe_protocol(const std::string& binary, std::chrono::milliseconds timeout) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
  UniqueFd read_end(out[0]), write_end(out[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::string flag(ipc::kProtocolFlag);
  char* argv[] = {const_cast<char*>(binary.c_str()), flag.data(), nullptr};
  pid_t pid = -1;
  const int err = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  write_end.reset();
  if (err != 0) return Error{"cannot run " + binary + ": " + std::strerror(err)};
  // A pidfd now: once the loop has reaped the child its pid may be another process's.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline, checked above
    char buf[512];
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: it has said what it says
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > 4096) break;
  }
  if (timed_out && pidfd) ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
  if (timed_out) return Error{binary + " " + flag + " did not answer within " + std::to_string(timeout.count()) + " ms"};
  std::string_view text = answer;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (!text.starts_with(ipc::kProtocolAnswer)) {
    return Error{binary + " is not a pmxd that tells its protocol (" + flag + " printed " +
                 (text.empty() ? std::string("nothing") : "'" + std::string(text.substr(0, 80)) + "'") + ")"};
  }
  text.remove_prefix(ipc::kProtocolAnswer.size());
  int version = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || version > 100000) return Error{binary + " printed a malformed protocol version"};
    version = version * 10 + (c - '0');
  }
  if (text.empty()) return Error{binary + " printed a malformed protocol version"};
  return version;
}

}  // namespace pmx::daemon
