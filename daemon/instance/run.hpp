// Run: one run of an instance: its leader (pid with its start time, the process's identity), its
// cgroup, its Node channel and the actions it registered, the HOME it got, why its exec failed,
// and its own deadline. An instance has its current run, during a reload the candidate that is
// to replace it, and the runs a reload replaced until they have ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/listeners/node_channel.hpp"
#include "daemon/process/timers.hpp"

namespace pmx::daemon {

struct Run {
  pid_t pid = 0;                 ///< the leader, 0 when none is alive
  std::uint64_t pid_start = 0;   ///< the leader's start time in ticks: with pid, its identity
  std::string cgroup;            ///< its cgroup; empty in fallback mode
  /// A Node app's IPC channel (NODE_CHANNEL_FD), pmxd's end; null otherwise. A replaced run
  /// keeps it open: 'shutdown' goes through it, and Node apps expect it until they exit.
  std::shared_ptr<NodeChannel> channel;
  /// The actions it registered ({type:'axm:action'}), which `trigger` runs, in order.
  std::vector<std::string> actions;
  /// HOME as it got it when it runs as another user (that user's home), else empty.
  std::string home;
  /// Why its exec failed; empty when it did not, or while that is not known yet.
  std::string exec_error;
  /// The run's own deadline: a candidate's wait for its ready message, a replaced run's
  /// SIGKILL at kill_timeout. The current run's timed states are the instance's
  /// (Instance::deadline), since they outlast it (waiting_restart has no run).
  Deadline deadline;
};

}  // namespace pmx::daemon
