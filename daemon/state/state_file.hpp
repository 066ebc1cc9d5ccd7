// StateFile: the daemon's state on disk, so that a pmxd that dies (SIGKILL, the OOM killer, a
// bug) is replaced by one that adopts every app still running. Written whole and atomically
// (temp file, fsync, rename) after every change that matters; read once at start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::daemon {

/// One instance as the state file keeps it.
/// A run beside an instance's current one: reload's replacement that had not taken over, or a
/// replaced run on its way out. A pmxd that takes over kills it (nothing else would).
struct SideRun {
  pid_t pid = 0;
  std::uint64_t pid_start = 0;
  std::string cgroup;
  bool replacement = false;  ///< reload's replacement (else a replaced run)
};

struct InstanceRecord {
  int id = 0;
  config::AppSpec spec;
  std::size_t env_index = 0;     ///< index into DaemonState::envs (the caller's environment)
  std::string unique_id;
  int app_instance = 0;
  std::string state;             ///< the state machine's state name ("online")
  pid_t pid = 0;                 ///< the leader, 0 when none was alive
  std::uint64_t pid_start = 0;   ///< the leader's start time (clock ticks since boot): its identity
  std::string cgroup;
  std::vector<std::string> old_cgroups;
  unsigned cgroup_generation = 0;
  int restart_count = 0;
  int unstable_restarts = 0;
  int consecutive_unstable = 0;
  std::int64_t prev_restart_delay_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t started_at_ms = 0;  ///< wall clock of the leader's spawn
  std::string out_path, err_path, pid_path;
  std::string exec_error;
  std::vector<SideRun> side_runs;
};

/// Everything a new pmxd needs to take over from a dead one.
struct DaemonState {
  int next_id = 0;
  /// Caller environments, shared by the instances one command started (stored once each).
  std::vector<std::shared_ptr<const config::Env>> envs;
  std::vector<InstanceRecord> instances;
};

/// The state as JSON text.
std::string encode_state(const DaemonState& state);

/// Reads text written by encode_state; an error names what is wrong. Never throws.
Result<DaemonState> decode_state(const std::string& text);

/// Writes text to path atomically: path.tmp, then rename over path. A process that dies at
/// any point leaves the old file or the new one, never a mix. With durable, the data and the
/// folder are fsynced too, so that a power loss cannot leave an empty file either.
std::error_code write_file_atomic(const std::string& path, const std::string& text, bool durable = true);

}  // namespace pmx::daemon
