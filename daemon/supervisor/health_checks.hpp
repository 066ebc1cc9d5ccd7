// HealthChecks: the probe scheduler. Each online instance whose app has a health_check is
// probed on its own, at most one probe in flight: http and tcp probes on the loop (HealthProbe),
// exec probes as children through the process layer, each with its timeout (an exec probe's
// process group is SIGKILLed at it). The next probe is armed `interval` after the last one
// ended. Failures within start_period of the run's start do not count; `retries` consecutive
// ones make the instance unhealthy, which the supervisor feeds to the state machine
// (Event::Unhealthy: a graceful restart counted as an unstable one); the first pass of a run
// makes it healthy (Event::Healthy). Every change of health is a line in pmx.log. The schedule
// (the next probe, an exec probe's timeout, start_period) is on the Timers seam, so a unit test
// moves its clock; the http and tcp probes themselves are real I/O on the loop.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "daemon/instance/instance.hpp"
#include "daemon/listeners/health_probe.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class HealthChecks {
 public:
  /// Feeds Event::Unhealthy or Event::Healthy of an instance to the state machine.
  using Verdict = std::function<void(Instance& in, Event event)>;
  /// The uid/gid options resolved from the cache (Launcher::credentials).
  using CredentialsOf = std::function<Result<Credentials>(const std::string& user, const std::string& group)>;

  /// timers, processes and registry must outlive the checks. The probes' schedule is armed on
  /// timers; http and tcp probes run on io.
  HealthChecks(boost::asio::io_context& io, Timers& timers, ProcessOps& processes, Registry& registry, std::string home,
               CredentialsOf credentials, Verdict verdict);
  HealthChecks(const HealthChecks&) = delete;
  HealthChecks& operator=(const HealthChecks&) = delete;
  ~HealthChecks();

  /// After every transition of in: an online run with a check is probed (from now on, if its
  /// leader is new), anything else is not (a probe in flight is cancelled, an exec probe killed).
  void update(Instance& in);
  /// The instance is gone: its probes end.
  void forget(int id);
  /// A reaped child: true when it was an exec probe (then its result is handled here).
  bool probe_exited(pid_t pid, const ExitStatus& exit);
  /// Exec probes running now (for tests and the bench).
  std::size_t exec_probes() const { return exec_pids_.size(); }

 private:
  struct Entry {
    pid_t leader = 0;          ///< the run being probed
    TimePoint run_started{};   ///< start_period counts from here
    std::string port;          ///< {port} of this run
    Deadline timer;            ///< the next probe
    Deadline deadline;         ///< an exec probe's timeout
    std::unique_ptr<HealthProbe> probe;  ///< an http/tcp probe in flight
    pid_t exec_pid = 0;                  ///< an exec probe running
    bool exec_timed_out = false;
    std::uint64_t generation = 0;        ///< bumped when probing stops: stale handlers do nothing
  };

  void stop(Entry& e);
  void arm(int id, Entry& e, Millis after);
  void probe(int id, Entry& e);
  void start_exec(int id, Entry& e, Instance& in, const std::string& command);
  void finished(int id, std::uint64_t generation, ProbeResult result);

  boost::asio::io_context& io_;
  Timers& timers_;
  ProcessOps& processes_;
  Registry& registry_;
  std::string home_;
  CredentialsOf credentials_;
  Verdict verdict_;
  std::map<int, std::unique_ptr<Entry>> entries_;
  std::map<pid_t, int> exec_pids_;  ///< exec probe pid -> instance id
};

}  // namespace pmx::daemon
