// UpdateVerb: `update`, pmxd replaced in place (same pid) by the binary now installed.
#pragma once

#include <optional>
#include <string>

#include "daemon/control/control_server.hpp"
#include "daemon/state/background_writer.hpp"
#include "daemon/supervisor/daemon_options.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/state_writer.hpp"

namespace pmx::daemon {

class UpdateVerb {
 public:
  /// options are the running pmxd's, given again to the new one. Every part must outlive the verb.
  UpdateVerb(const DaemonOptions& options, const Registry& registry, BackgroundWriter& writer, StateWriter& state)
      : options_(options), registry_(registry), writer_(writer), state_(state) {}
  UpdateVerb(const UpdateVerb&) = delete;
  UpdateVerb& operator=(const UpdateVerb&) = delete;

  /// Execs the binary given, same pid, once answered.
  void handle(const ipc::json& params, const Reply& reply);

 private:
  /// Why an update must wait (an instance is not settled), or nullopt.
  std::optional<ipc::RpcError> blocker() const;
  /// Answers, then execs binary with the lock passed on.
  void hand_over(const std::string& binary, const Reply& reply);

  const DaemonOptions& options_;
  const Registry& registry_;
  BackgroundWriter& writer_;
  StateWriter& state_;
};

}  // namespace pmx::daemon
