// InstanceControl: what the verbs' parts (StartVerb, ScaleVerb, DumpVerbs, Adopter) ask of the
// supervisor beyond the parts they are handed: register instances and start them, feed an
// event to an instance's state machine, delete an instance, write the entries of a reply.
// Supervisor is its one implementation; the verbs see this contract, never its members.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/supervisor/describe.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class InstanceControl {
 public:
  /// Registers one instance of spec as pm_id id (-1: the next free one), not started yet;
  /// returns its id.
  virtual int add_instance(const config::AppSpec& spec, std::shared_ptr<const config::Env> caller_env, int id) = 0;
  /// Puts in into the registry, with its cron and its app's watch (an instance adopted as the
  /// state file records it, already named and numbered).
  virtual Instance& insert(std::unique_ptr<Instance> in) = 0;
  /// Starts ids, just registered, once the state file names every one of them: a pmxd killed
  /// while they start leaves no process its successor does not know of (it adopts a run the
  /// state file names, without its pid yet, through the run's marker).
  virtual void start_registered(const std::vector<int>& ids) = 0;
  /// Feeds event to in's state machine and carries out what it answers.
  virtual void dispatch(Instance& in, Event event, ExitStatus exit) = 0;
  void dispatch(Instance& in, Event event) { dispatch(in, event, ExitStatus{}); }
  /// Removes the instance and its on-disk traces, and its app when it was the last one.
  virtual void remove(int id) = 0;
  /// The jlist entries of ids, as JSON text (without environments when brief: EntryShape).
  virtual std::string describe_all(const std::vector<int>& ids, EntryShape shape) = 0;
  /// Whether pmxd shuts down (stops every app to exit): nothing starts any more. A verb that
  /// starts processes asks again when it resumes after a wait (a user's lookup).
  virtual bool shutting_down() const = 0;

 protected:
  ~InstanceControl() = default;
};

/// The refusal of a verb that would start processes while pmxd shuts down.
inline ipc::RpcError shutting_down_error(const std::string& verb) {
  return ipc::make_error(ipc::ErrorCode::ShuttingDown,
                         "pmxd is shutting down (stopping every app to exit): " + verb + " refused", {{"verb", verb}});
}

}  // namespace pmx::daemon
