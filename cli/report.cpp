// pmx report: the daemon's answers (ping, metrics, list) and a few reads of this machine, as text.
#include "cli/report.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>
#include <vector>

#include "config/paths.hpp"
#include "config/units.hpp"

namespace pmx::cli {

namespace {

const char* commit() {
#ifdef PMX_COMMIT
  return PMX_COMMIT;
#else
  return "unknown";
#endif
}

bool exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

std::string cgroup_mode() {
  if (exists("/sys/fs/cgroup/cgroup.controllers")) return "v2 (unified)";
  if (exists("/sys/fs/cgroup/unified/cgroup.controllers")) return "hybrid (v1, and v2 at /sys/fs/cgroup/unified)";
  return "v1";
}

std::string kernel() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release + " " + u.version + " " + u.machine;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

void row(const std::string& key, const std::string& value) {
  std::cout << key << std::string(key.size() < 12 ? 12 - key.size() : 1, ' ') << value << "\n";
}

}  // namespace

std::string last_lines(const std::string& path, std::size_t count) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return "(cannot read: " + std::string(std::strerror(errno)) + ")";
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return "(cannot read: not a regular file)";
  }
  constexpr off_t kMost = 64 * 1024;
  const off_t from = st.st_size > kMost ? st.st_size - kMost : 0;
  std::string text(static_cast<std::size_t>(st.st_size - from), '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), from);
  ::close(fd);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (from > 0) {
    const std::size_t first = text.find('\n');  // a cut line is not shown
    text.erase(0, first == std::string::npos ? text.size() : first + 1);
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::size_t start = text.size();
  for (std::size_t lines = 0; start > 0 && lines < count;) {
    const std::size_t nl = text.rfind('\n', start - 1);
    ++lines;
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    if (lines == count) {
      start = nl + 1;
      break;
    }
    start = nl;
  }
  return text.substr(start);
}

int cmd_report(DaemonConnection& daemon) {
  const json ping = daemon.call("ping");
  const json metrics = daemon.call("metrics", {{"history", false}});
  const json apps = daemon.call("list");
  const json d = metrics.value("daemon", json::object());

  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::cout << "===== pmx report =====\n";
  row("date", date);
  row("pmx", std::string(PMX_VERSION) + " (commit " + commit() + ") " + config::own_executable());
  row("pmxd", text_of(ping.value("version", json())) + " (commit " + text_of(d.value("commit", json())) + ") pid " +
                  text_of(ping.value("pid", json())) + " " + text_of(ping.value("exe", json())));
  row("kernel", kernel());
  row("cgroup", cgroup_mode() + "; pmxd tracks instances by " +
                    (ping.value("cgroups", false) ? std::string("cgroup") : std::string("process group and /proc")));
  row("PMX_HOME", text_of(ping.value("home", json())));
  const auto uptime = d.value("uptime_ms", std::int64_t{0});
  row("daemon", "up " + config::format_uptime(static_cast<std::uint64_t>(std::max<std::int64_t>(0, uptime))) + ", RSS " +
                    config::format_bytes(d.value("resident_bytes", std::uint64_t{0})) + ", " +
                    std::to_string(d.value("open_fds", 0)) + " open fds");

  std::cout << "\n===== apps (" << apps.size() << ") =====\n";
  for (const auto& app : apps) {
    const json env = app.value("pm2_env", json::object());
    std::cout << "\n" << app.value("name", std::string("?")) << " (id " << app.value("pm_id", -1) << ", namespace "
              << env.value("namespace", std::string("default")) << ", " << env.value("exec_mode", std::string("?")) << ")\n";
    std::cout << "  status " << env.value("status", std::string("?")) << ", pid " << app.value("pid", 0) << ", restarts "
              << env.value("restart_time", 0) << " (unstable " << env.value("unstable_restarts", 0) << "), uptime "
              << config::format_uptime(static_cast<std::uint64_t>(std::max<std::int64_t>(0, env.value("uptime_ms", std::int64_t{0}))))
              << "\n";
    std::cout << "  last exit: code " << text_of(env.value("exit_code", json())) << ", signal "
              << text_of(env.value("exit_signal", json())) << ", reason " << text_of(env.value("status_reason", json())) << "\n";
    if (env.contains("exec_error") && !env["exec_error"].is_null()) std::cout << "  exec error: " << text_of(env["exec_error"]) << "\n";
    const std::string err = env.value("pm_err_log_path", std::string());
    const std::string tail = err.empty() || err == "/dev/null" ? std::string() : last_lines(err, 15);
    std::cout << "  error log " << (err.empty() ? "-" : err) << (tail.empty() ? " (empty)\n" : ", last lines:\n");
    std::size_t at = 0;
    while (at < tail.size()) {
      const std::size_t nl = tail.find('\n', at);
      std::cout << "    | " << tail.substr(at, nl == std::string::npos ? std::string::npos : nl - at) << "\n";
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  }
  return 0;
}

}  // namespace pmx::cli
