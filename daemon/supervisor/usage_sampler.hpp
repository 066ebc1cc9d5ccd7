// UsageSampler: the sampling tick. Reads each instance's memory and CPU through the process
// layer (instances with a memory limit every tick, the others a share at a time), names the ones
// over their max_memory_restart, flushes pmx.log and hands freed heap back to the system.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "daemon/control/control_server.hpp"
#include "daemon/process/exit_status.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class UsageSampler {
 public:
  /// Called after a tick with the ids of the online instances over their memory limit.
  using OverLimit = std::function<void(const std::vector<int>& ids)>;
  /// Instances without a memory limit are read every this many ticks.
  static constexpr std::uint64_t kSpread = 5;

  /// timers, processes, registry and server must outlive the sampler.
  UsageSampler(Timers& timers, Millis interval, ProcessOps& processes, Registry& registry,
               const ControlServer& server, OverLimit over_limit);
  UsageSampler(const UsageSampler&) = delete;
  UsageSampler& operator=(const UsageSampler&) = delete;

  /// Arms the first tick; each tick arms the next.
  void start();
  /// One tick's readings (what the tick runs, without the flush and trim): the ids over
  /// their limit. For tests, and the tick.
  std::vector<int> sample();

 private:
  void schedule();

  Timers& timers_;
  Millis interval_;
  ProcessOps& processes_;
  Registry& registry_;
  const ControlServer& server_;
  OverLimit over_limit_;
  Deadline tick_deadline_;
  std::uint64_t tick_ = 0;
  std::uint64_t requests_at_trim_ = 0;
};

}  // namespace pmx::daemon
