// RunReplacer: one step of a reload: a replacement run started beside an instance's online run,
// awaited until it is ready (or, for an app that cannot say so, until it outlived
// min_uptime), then made the current run while the old one is stopped gracefully and SIGKILLed
// after kill_timeout. A replacement that ends or never becomes ready is killed and the old run
// goes on serving. Which instances a reload replaces, in what order, is the supervisor's.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

#include "daemon/instance/instance.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/launcher.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/settle_waiters.hpp"
#include "daemon/supervisor/state_writer.hpp"

namespace pmx::daemon {

class RunReplacer {
 public:
  /// Tells the state machine that in's current run was replaced (Event::Replaced).
  using Replaced = std::function<void(Instance& in)>;

  /// Every reference must outlive this.
  RunReplacer(boost::asio::io_context& io, Timers& timers, ProcessOps& processes, Registry& registry, Launcher& launcher,
              SettleWaiters& waiters, StateWriter& state, Replaced replaced);
  RunReplacer(const RunReplacer&) = delete;
  RunReplacer& operator=(const RunReplacer&) = delete;

  /// Starts a replacement run beside in's online run; done("") once it took over, or done(why)
  /// when it failed and was killed, the old run still serving.
  void replace_run(Instance& in, std::function<void(const std::string& error)> done);
  /// The replacement is ready: it becomes the current run, the old one is stopped gracefully.
  void take_over(Instance& in, const std::string& how);
  /// Kills the replacement (the reload step failed, or the instance changed state meanwhile).
  void abort_candidate(Instance& in, const std::string& why);
  /// A leader that is not the instance's current run ended: the replacement (the reload step
  /// failed) or a replaced run.
  void other_run_exited(Instance& in, pid_t pid, ExitStatus exit);

 private:
  /// The replacement's exec is confirmed: it is awaited until ready (listen_timeout), or for
  /// min_uptime when the app has no way to say it is ready.
  void candidate_spawned(Instance& in);
  /// Ends the replacement's reload step as failed: takes it from in (its cgroup among the old
  /// ones, its done(why) posted) and returns it for the caller to end its processes.
  std::unique_ptr<Candidate> fail_candidate(Instance& in, const std::string& why);

  boost::asio::io_context& io_;
  Timers& timers_;
  ProcessOps& processes_;
  Registry& registry_;
  Launcher& launcher_;
  SettleWaiters& waiters_;
  StateWriter& state_;
  Replaced replaced_;
};

}  // namespace pmx::daemon
