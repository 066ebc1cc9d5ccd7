// StartVerb: `start`, one app or an ecosystem file's apps, every one checked before any starts.
#pragma once

#include "daemon/control/control_server.hpp"
#include "daemon/instance/env_pool.hpp"
#include "daemon/process/credentials_cache.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/supervisor/app_sockets.hpp"
#include "daemon/supervisor/instance_control.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/settle_waiters.hpp"
#include "daemon/supervisor/start_order.hpp"
#include "daemon/supervisor/state_writer.hpp"

namespace pmx::daemon {

class StartVerb {
 public:
  /// Every part must outlive the verb.
  StartVerb(Registry& registry, ProcessOps& processes, CredentialsCache& credentials, StartOrder& start_order,
            StateWriter& state, EnvPool& envs, AppSockets& sockets, SettleWaiters& waiters, InstanceControl& control)
      : registry_(registry),
        processes_(processes),
        credentials_(credentials),
        start_order_(start_order),
        state_(state),
        envs_(envs),
        sockets_(sockets),
        waiters_(waiters),
        control_(control) {}
  StartVerb(const StartVerb&) = delete;
  StartVerb& operator=(const StartVerb&) = delete;

  /// Answers with the entries of the instances started (or started again), once they settled.
  void handle(const ipc::json& params, const Reply& reply);

 private:
  Registry& registry_;
  ProcessOps& processes_;
  CredentialsCache& credentials_;
  StartOrder& start_order_;
  StateWriter& state_;
  EnvPool& envs_;
  AppSockets& sockets_;
  SettleWaiters& waiters_;
  InstanceControl& control_;
};

}  // namespace pmx::daemon
