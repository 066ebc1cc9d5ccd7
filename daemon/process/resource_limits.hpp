// ResourceLimits: the kernel's limits of an instance's cgroup (cpu_quota, memory_max,
// tasks_max) and what they count (throttled time, OOM kills, tasks). The one place that knows
// whether a controller is in pmx's cgroup v2 tree (cpu.max, memory.max, pids.max in the run's
// own cgroup) or, on hybrid hosts, in a cgroup v1 hierarchy (a folder per run, named like the
// run's v2 cgroup, under pmxd's own v1 cgroup: cpu.cfs_quota_us, memory.limit_in_bytes,
// pids.max), which the child joins before its exec.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::daemon {

/// The limits of a run (0: none), from its app's options.
struct Limits {
  int cpu_quota_percent = 0;  ///< percent of one CPU
  std::uint64_t memory_max = 0;  ///< bytes
  int tasks_max = 0;
  bool any() const { return cpu_quota_percent > 0 || memory_max > 0 || tasks_max > 0; }
  bool operator==(const Limits&) const = default;
};

/// The limits spec asks for.
Limits limits_of(const config::AppSpec& spec);

/// What the limits of a run count, read from its cgroups; unset where that controller does not
/// limit the run.
struct LimitUsage {
  std::optional<std::uint64_t> cpu_throttled_us;  ///< time the run was held back by its quota
  std::optional<std::uint64_t> oom_kills;         ///< processes the kernel OOM-killed in it
  std::optional<std::uint64_t> tasks;             ///< processes and threads now
  bool operator==(const LimitUsage&) const = default;
};

/// The controllers a limit needs.
enum class Controller { Cpu, Memory, Pids };
constexpr std::size_t kControllers = 3;
const char* to_string(Controller c);

/// Where a controller is found for the runs of this pmxd.
struct ControllerPlace {
  bool v2 = false;      ///< in pmx's cgroup v2 tree (listed in its cgroup.controllers)
  std::string v1_base;  ///< else: the folder under pmxd's own v1 cgroup that holds a folder per run
};

class ResourceLimits {
 public:
  /// No cgroups (fallback mode): every limit is refused.
  ResourceLimits() = default;
  /// Runs' cgroups live in v2_root; each controller where `places` says.
  ResourceLimits(std::string v2_root, std::array<ControllerPlace, kControllers> places);

  /// Finds each controller for the v2 folder v2_root ("" in fallback mode): in its
  /// cgroup.controllers, else in a mounted v1 hierarchy, under pmxd's own cgroup there (from
  /// /proc/self/cgroup), in a folder named name.
  static ResourceLimits probe(const std::string& v2_root, const std::string& name);

  /// Whether runs with these limits can be made; else why not (fallback mode, or the missing
  /// controller).
  Result<bool> check(const Limits& limits) const;

  /// Writes limits into the run's v2 cgroup dir and into the v1 folders of its name (made
  /// here), before any process is in them. Returns the v1 folders the child must join (their
  /// cgroup.procs), or the first failure (the v1 folders made are removed again).
  Result<std::vector<std::string>> apply(const std::string& dir, const Limits& limits) const;

  /// What the limits of the run in dir count (its v2 files, or its v1 folders by name).
  LimitUsage usage(const std::string& dir, const Limits& limits) const;
  /// The OOM kills of the run in dir: its v1 memory folder's memory.oom_control when it has
  /// one, else its memory.events; 0 when neither can be read.
  std::uint64_t oom_kills(const std::string& dir) const;

  /// Removes the v1 folders of the run in dir (found by name: a run adopted after a crash has
  /// them too); false while one still holds a process.
  bool remove(const std::string& dir) const;
  /// Removes the empty v1 folders an earlier pmxd of this home left (a populated one belongs
  /// to a run that is adopted, and goes when that run ends).
  void remove_stale() const;
  /// Removes the v1 base folders, if empty (pmxd's exit).
  void remove_bases() const;

  const ControllerPlace& place(Controller c) const { return places_[static_cast<std::size_t>(c)]; }

 private:
  std::string v2_root_;
  std::array<ControllerPlace, kControllers> places_{};
};

/// The cgroup v1 hierarchies of /proc/self/mounts's text: controller -> mount point.
/// (Exposed for tests.)
std::optional<std::string> v1_mount_of(const std::string& mounts_text, const char* controller);
/// pmxd's path in the v1 hierarchy of controller from /proc/self/cgroup's text ("/a/b").
std::optional<std::string> v1_path_of(const std::string& proc_cgroup_text, const char* controller);
/// The throttled time in microseconds of a cpu.stat text: v2's throttled_usec, or v1's
/// throttled_time (ns); unset when neither is there.
std::optional<std::uint64_t> throttled_us(const std::string& cpu_stat_text);

}  // namespace pmx::daemon
