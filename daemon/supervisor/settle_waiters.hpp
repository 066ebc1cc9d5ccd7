// SettleWaiters: replies that wait until instances settle (started, stopped and quiet, gone),
// woken by the process layer's watches or, where it cannot watch, by a short poll. The reply
// deadline and the poll are armed on the Timers seam.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <set>
#include <vector>

#include "daemon/instance/instance.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class SettleWaiters {
 public:
  /// What a waiter asks of one instance (nullptr: the instance is gone).
  using Done = std::function<bool(const Instance*)>;

  /// A wake's check is posted on io; the deadlines are armed on timers. timers, processes and
  /// registry must outlive this.
  SettleWaiters(boost::asio::io_context& io, Timers& timers, ProcessOps& processes, const Registry& registry);
  /// Ends the process layer's watches for waiting replies.
  ~SettleWaiters();
  SettleWaiters(const SettleWaiters&) = delete;
  SettleWaiters& operator=(const SettleWaiters&) = delete;

  /// Calls complete once every instance of ids satisfies done (or after kReplyDeadline: a
  /// process stuck in the kernel must not hold a client forever). Checked at once.
  void wait_for(std::vector<int> ids, Done done, std::function<void()> complete);
  /// Checks every waiter now (after a transition or a batch of exits).
  void check();
  /// The process layer saw a change in id's processes: clears away its emptied old cgroups and
  /// checks the waiters once (a burst of exits makes one check).
  void wake(int id);

  /// No process of the instance is left (its leader reaped, nothing it started alive).
  bool quiet(const Instance& in) const;
  /// Stopped or errored, and no process of it left: what stop, delete and kill wait for.
  bool stopped_and_quiet(const Instance& in) const { return is_stopped(in.fsm.state()) && quiet(in); }

 private:
  struct Waiter {
    std::vector<int> ids;
    Done done;
    std::function<void()> complete;
    TimePoint since;  ///< when the wait began
  };

  boost::asio::io_context& io_;
  Timers& timers_;
  ProcessOps& processes_;
  const Registry& registry_;
  std::vector<Waiter> waiters_;
  /// Fires at the earliest reply deadline, or polls where the process layer cannot watch.
  Deadline poll_;
  std::set<int> watched_;  ///< instances whose processes the layer watches for a waiting reply
  bool woken_ = false;  ///< a check is posted
};

}  // namespace pmx::daemon
