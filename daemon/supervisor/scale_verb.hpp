// ScaleVerb: `scale`, an app's instances brought to a total, or some added or removed.
#pragma once

#include "daemon/control/control_server.hpp"
#include "daemon/supervisor/instance_control.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/settle_waiters.hpp"
#include "daemon/supervisor/state_writer.hpp"

namespace pmx::daemon {

class ScaleVerb {
 public:
  /// Every part must outlive the verb.
  ScaleVerb(Registry& registry, StateWriter& state, SettleWaiters& waiters, InstanceControl& control)
      : registry_(registry), state_(state), waiters_(waiters), control_(control) {}
  ScaleVerb(const ScaleVerb&) = delete;
  ScaleVerb& operator=(const ScaleVerb&) = delete;

  void handle(const ipc::json& params, const Reply& reply);

 private:
  Registry& registry_;
  StateWriter& state_;
  SettleWaiters& waiters_;
  InstanceControl& control_;
};

}  // namespace pmx::daemon
