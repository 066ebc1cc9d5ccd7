// DumpVerbs: `save`, `resurrect` and `cleardump`, the app list kept in $PMX_HOME/dump.pmx across
// a `pmx kill` or a reboot, and pmxd --resurrect's start from it.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config/dump.hpp"
#include "config/paths.hpp"
#include "daemon/control/control_server.hpp"
#include "daemon/instance/env_pool.hpp"
#include "daemon/process/credentials_cache.hpp"
#include "daemon/process/process_ops.hpp"
#include "daemon/state/background_writer.hpp"
#include "daemon/supervisor/app_sockets.hpp"
#include "daemon/supervisor/instance_control.hpp"
#include "daemon/supervisor/registry.hpp"
#include "daemon/supervisor/settle_waiters.hpp"

namespace pmx::daemon {

/// A dump as read: its instances, the file they came from ("" when there is no dump) and why
/// it is the backup, if it is.
struct SavedDump {
  std::vector<config::SavedInstance> instances;
  std::string source;
  std::string warning;
};

class DumpVerbs {
 public:
  /// Every part must outlive the verbs.
  DumpVerbs(config::Paths paths, Registry& registry, ProcessOps& processes, AppSockets& sockets, EnvPool& envs,
            CredentialsCache& credentials, BackgroundWriter& writer, SettleWaiters& waiters, InstanceControl& control);
  DumpVerbs(const DumpVerbs&) = delete;
  DumpVerbs& operator=(const DumpVerbs&) = delete;

  void save(const ipc::json& params, const Reply& reply);
  void resurrect(const ipc::json& params, const Reply& reply);
  void cleardump(const Reply& reply);
  /// pmxd --resurrect: the dump's apps, then settled() once they have settled.
  void resurrect_at_start(std::function<void()> settled);

 private:
  struct Resurrected {
    std::vector<int> ids;          ///< the instances added
    std::set<std::string> started_apps;
    ipc::json skipped = ipc::json::array();  ///< names of apps already here
    ipc::json failed = ipc::json::array();   ///< [{name, error}]
  };
  /// dump.pmx, or dump.pmx.bak when it does not read (warning says why); an error when
  /// neither reads; source "" when there is neither.
  Result<SavedDump> read_dump() const;
  /// Adds the saved instances of the apps not here yet (with their ids when free), started
  /// unless saved stopped.
  Resurrected add_saved(const std::vector<config::SavedInstance>& saved);

  config::Paths paths_;
  Registry& registry_;
  ProcessOps& processes_;
  AppSockets& sockets_;
  EnvPool& envs_;
  CredentialsCache& credentials_;
  BackgroundWriter& writer_;
  SettleWaiters& waiters_;
  InstanceControl& control_;
};

}  // namespace pmx::daemon
