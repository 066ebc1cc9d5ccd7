// ResourceLimits: cgroup v2 files where pmx's tree has the controller, v1 folders elsewhere.
#include "daemon/process/resource_limits.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <string_view>

#include "daemon/process/memory_events.hpp"

namespace pmx::daemon {
namespace {

/// The period of cpu.max and cpu.cfs_period_us: 100 ms, as systemd's.
constexpr std::uint64_t kCpuPeriodUs = 100000;
/// The most pids.max takes (PID_MAX_LIMIT on 64-bit kernels).
constexpr int kMaxTasks = 4194304;

const char* const kControllerNames[kControllers] = {"cpu", "memory", "pids"};

/// A kernel file's text, at most max bytes ("" when it cannot be read); never follows a link,
/// never waits.
std::string read_limit_file(const std::string& path, std::size_t max = 64 * 1024) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  std::string text;
  char buf[4096];
  while (text.size() < max) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

/// Writes text into a cgroup file (made if absent: a test's fake folder; O_TRUNC as systemd
/// opens them); "" or the failure.
std::string write_limit_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return "cannot write '" + text + "' into " + path + ": " + std::strerror(n < 0 ? err : EIO);
  }
  return "";
}

/// The number after "key " on a line of text.
std::optional<std::uint64_t> keyed_value(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      const std::string_view digits = line.substr(key.size() + 1);
      std::uint64_t n = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) return n;
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

/// A whole-file count ("12\n"), as pids.current holds.
std::optional<std::uint64_t> count_of(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

std::string leaf_of(const std::string& dir) {
  const auto slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

/// Whether the controller's name is one of a comma-separated list ("rw,relatime,cpu,cpuacct").
bool in_comma_list(std::string_view list, std::string_view name) {
  std::size_t at = 0;
  while (at <= list.size()) {
    std::size_t end = list.find(',', at);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(at, end - at) == name) return true;
    at = end + 1;
  }
  return false;
}

/// Whether a space-separated list (cgroup.controllers) names the controller.
bool has_word(const std::string& text, std::string_view word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

}  // namespace

const char* to_string(Controller c) { return kControllerNames[static_cast<std::size_t>(c)]; }

Limits limits_of(const config::AppSpec& spec) {
  return Limits{spec.cpu_quota, spec.memory_max, spec.tasks_max};
}

std::optional<std::string> v1_mount_of(const std::string& mounts_text, const char* controller) {
  std::istringstream in(mounts_text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, dir, type, options;
    if (!(fields >> source >> dir >> type >> options) || type != "cgroup") continue;
    if (in_comma_list(options, controller)) return dir;
  }
  return std::nullopt;
}

std::optional<std::string> v1_path_of(const std::string& proc_cgroup_text, const char* controller) {
  std::istringstream in(proc_cgroup_text);
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    if (in_comma_list(std::string_view(line).substr(first + 1, second - first - 1), controller)) return line.substr(second + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> throttled_us(const std::string& cpu_stat_text) {
  if (auto us = keyed_value(cpu_stat_text, "throttled_usec")) return us;
  if (auto ns = keyed_value(cpu_stat_text, "throttled_time")) return *ns / 1000;
  return std::nullopt;
}

ResourceLimits::ResourceLimits(std::string v2_root, std::array<ControllerPlace, kControllers> places)
    : v2_root_(std::move(v2_root)), places_(std::move(places)) {}

ResourceLimits ResourceLimits::probe(const std::string& v2_root, const std::string& name) {
  if (v2_root.empty()) return ResourceLimits();
  std::array<ControllerPlace, kControllers> places{};
  const std::string v2_controllers = read_limit_file(v2_root + "/cgroup.controllers");
  const std::string mounts = read_limit_file("/proc/self/mounts", 4 << 20);  // hosts with many mounts
  const std::string own = read_limit_file("/proc/self/cgroup");
  for (std::size_t i = 0; i < kControllers; ++i) {
    if (has_word(v2_controllers, kControllerNames[i])) {
      places[i].v2 = true;
      continue;
    }
    const auto mount = v1_mount_of(mounts, kControllerNames[i]);
    const auto path = v1_path_of(own, kControllerNames[i]);
    if (!mount || !path) continue;
    // A hierarchy we can make folders in (as root; else it is missing for us).
    if (::access(mount->c_str(), W_OK) != 0) continue;
    places[i].v1_base = *mount + (*path == "/" ? "" : *path) + "/" + name;
  }
  return ResourceLimits(v2_root, std::move(places));
}

Result<bool> ResourceLimits::check(const Limits& limits) const {
  if (!limits.any()) return true;
  if (limits.tasks_max > kMaxTasks) {
    return Error{"option 'tasks_max': at most " + std::to_string(kMaxTasks) + " (the kernel's PID_MAX_LIMIT)"};
  }
  if (v2_root_.empty()) {
    return Error{"cpu_quota, memory_max and tasks_max need cgroups, and pmxd runs in fallback mode (no writable "
                 "cgroup v2 hierarchy with cgroup.kill, or --no-cgroup / PMX_NO_CGROUP): the app would run unlimited"};
  }
  const std::pair<bool, Controller> wanted[] = {{limits.cpu_quota_percent > 0, Controller::Cpu},
                                                {limits.memory_max > 0, Controller::Memory},
                                                {limits.tasks_max > 0, Controller::Pids}};
  const char* const option[] = {"cpu_quota", "memory_max", "tasks_max"};
  for (const auto& [want, c] : wanted) {
    const ControllerPlace& p = place(c);
    if (want && !p.v2 && p.v1_base.empty()) {
      return Error{std::string("option '") + option[static_cast<std::size_t>(c)] + "' needs the cgroup '" + to_string(c) +
                   "' controller, which neither pmx's cgroup v2 tree (" + v2_root_ +
                   ") nor a writable cgroup v1 hierarchy offers: the app would run unlimited"};
    }
  }
  return true;
}

Result<std::vector<std::string>> ResourceLimits::apply(const std::string& dir, const Limits& limits) const {
  std::vector<std::string> joins;
  if (!limits.any()) return joins;
  if (auto ok = check(limits); !ok) return Error{ok.error()};
  const std::string leaf = leaf_of(dir);
  auto fail = [&](const std::string& why) -> Result<std::vector<std::string>> {
    for (const auto& made : joins) ::rmdir(made.c_str());
    return Error{why};
  };
  // Each wanted controller: its files, and the folder they are in (v2: the run's own cgroup).
  auto folder = [&](Controller c, std::string& out) -> std::string {
    const ControllerPlace& p = place(c);
    if (p.v2) {
      // Enabled for the runs' cgroups once, when first needed: the cpu controller changes how
      // every run is scheduled, so a pmxd whose apps ask for no limit leaves it off.
      const std::string subtree = read_limit_file(v2_root_ + "/cgroup.subtree_control");
      if (!has_word(subtree, to_string(c))) {
        if (auto err = write_limit_file(v2_root_ + "/cgroup.subtree_control", std::string("+") + to_string(c)); !err.empty()) {
          return err;
        }
      }
      out = dir;
      return "";
    }
    if (::mkdir(p.v1_base.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot make " + p.v1_base + ": " + std::strerror(errno);
    }
    out = p.v1_base + "/" + leaf;
    if (::mkdir(out.c_str(), 0755) != 0 && errno != EEXIST) return "cannot make " + out + ": " + std::strerror(errno);
    joins.push_back(out);
    return "";
  };
  std::string at;
  if (limits.cpu_quota_percent > 0) {
    if (auto err = folder(Controller::Cpu, at); !err.empty()) return fail(err);
    const std::string quota = std::to_string(static_cast<std::uint64_t>(limits.cpu_quota_percent) * kCpuPeriodUs / 100);
    if (place(Controller::Cpu).v2) {
      if (auto err = write_limit_file(at + "/cpu.max", quota + " " + std::to_string(kCpuPeriodUs)); !err.empty()) return fail(err);
    } else {
      if (auto err = write_limit_file(at + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs)); !err.empty()) return fail(err);
      if (auto err = write_limit_file(at + "/cpu.cfs_quota_us", quota); !err.empty()) return fail(err);
    }
  }
  if (limits.memory_max > 0) {
    if (auto err = folder(Controller::Memory, at); !err.empty()) return fail(err);
    const char* file = place(Controller::Memory).v2 ? "/memory.max" : "/memory.limit_in_bytes";
    if (auto err = write_limit_file(at + file, std::to_string(limits.memory_max)); !err.empty()) return fail(err);
  }
  if (limits.tasks_max > 0) {
    if (auto err = folder(Controller::Pids, at); !err.empty()) return fail(err);
    if (auto err = write_limit_file(at + "/pids.max", std::to_string(limits.tasks_max)); !err.empty()) return fail(err);
  }
  return joins;
}

LimitUsage ResourceLimits::usage(const std::string& dir, const Limits& limits) const {
  LimitUsage u;
  if (dir.empty() || v2_root_.empty()) return u;
  const std::string leaf = leaf_of(dir);
  auto folder = [&](Controller c) {
    const ControllerPlace& p = place(c);
    return p.v2 ? dir : p.v1_base.empty() ? std::string() : p.v1_base + "/" + leaf;
  };
  if (limits.cpu_quota_percent > 0) {
    if (const std::string at = folder(Controller::Cpu); !at.empty()) u.cpu_throttled_us = throttled_us(read_limit_file(at + "/cpu.stat"));
  }
  if (limits.memory_max > 0) u.oom_kills = oom_kills(dir);
  if (limits.tasks_max > 0) {
    if (const std::string at = folder(Controller::Pids); !at.empty()) u.tasks = count_of(read_limit_file(at + "/pids.current"));
  }
  return u;
}

std::uint64_t ResourceLimits::oom_kills(const std::string& dir) const {
  if (dir.empty()) return 0;
  const ControllerPlace& p = place(Controller::Memory);
  if (!p.v2 && !p.v1_base.empty()) {
    const std::string text = read_limit_file(p.v1_base + "/" + leaf_of(dir) + "/memory.oom_control");
    if (!text.empty()) return oom_kill_count(text);
  }
  return read_oom_kills(dir);
}

bool ResourceLimits::remove(const std::string& dir) const {
  if (dir.empty()) return true;
  const std::string leaf = leaf_of(dir);
  bool all = true;
  for (const auto& p : places_) {
    if (p.v1_base.empty()) continue;
    const std::string at = p.v1_base + "/" + leaf;
    if (::rmdir(at.c_str()) != 0 && errno != ENOENT) all = false;
  }
  return all;
}

void ResourceLimits::remove_stale() const {
  for (const auto& p : places_) {
    if (p.v1_base.empty()) continue;
    DIR* d = ::opendir(p.v1_base.c_str());
    if (!d) continue;
    std::vector<std::string> found;
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') found.push_back(p.v1_base + "/" + e->d_name);
    }
    ::closedir(d);
    for (const auto& at : found) ::rmdir(at.c_str());  // EBUSY: an adopted run's
  }
}

void ResourceLimits::remove_bases() const {
  for (const auto& p : places_) {
    if (!p.v1_base.empty()) ::rmdir(p.v1_base.c_str());
  }
}

}  // namespace pmx::daemon
