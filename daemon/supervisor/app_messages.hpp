// AppMessages: PM2's messages on a Node app's IPC channel beyond readiness and sockets: the
// actions a run registers and `trigger` runs (waiting for the replies, with a deadline),
// `sendData`'s packets, and an app's process:msg published on the events topic. A trigger's
// wait is a deadline on the Timers seam.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon/control/control_server.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/listeners/node_message.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/registry.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class AppMessages {
 public:
  /// timers, registry and server must outlive this.
  AppMessages(Timers& timers, Registry& registry, ControlServer& server);
  AppMessages(const AppMessages&) = delete;
  AppMessages& operator=(const AppMessages&) = delete;

  /// A PM2 message ({type: ...}) from a run (actions: the run's registered actions; current:
  /// the instance's current run, not reload's replacement).
  void on_message(Instance& in, std::vector<std::string>& actions, bool current, const NodeMessage& msg);
  /// `trigger`: runs a registered action on the targets and answers with their replies: once
  /// every instance reached has replied, or at the wait's end (`wait_ms`, 5 s by default) with
  /// what came in by then and the silent ones named.
  void trigger(const ipc::json& params, const std::vector<int>& ids, const Reply& reply);
  /// `sendData`: a process:msg packet to the targets.
  void send_data(const ipc::json& params, const std::vector<int>& ids, const Reply& reply);

 private:
  /// A trigger waiting for the replies of the instances it reached.
  struct Trigger {
    explicit Trigger(Reply to) : reply(std::move(to)) {}
    Reply reply;
    std::string action;
    Millis wait{0};
    std::vector<int> sent;
    std::set<int> waiting;
    std::map<int, ipc::json> replies;  ///< by pm_id: what each instance's action returned
    Deadline timer;                    ///< the wait's end; goes with the trigger
  };

  /// Answers t with the replies it has and drops it.
  void answer(Trigger& t);

  Timers& timers_;
  Registry& registry_;
  ControlServer& server_;
  std::vector<std::unique_ptr<Trigger>> triggers_;  ///< triggers waiting for replies
};

}  // namespace pmx::daemon
