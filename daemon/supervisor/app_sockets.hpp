// AppSockets: the listening sockets pmxd holds for cluster-mode apps: bound once per app before
// its instances start, asked for by the Node preload over an instance's channel (checked
// against what the operator granted, made as the app's user otherwise), closed once every
// instance of the app is stopped. The sockets themselves are each App's Listeners.
#pragma once

#include <functional>
#include <string>

#include "config/app_spec.hpp"
#include "config/result.hpp"
#include "daemon/instance/app.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/listeners/node_channel.hpp"
#include "daemon/process/spawn.hpp"
#include "daemon/supervisor/registry.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

class AppSockets {
 public:
  /// The uid/gid options resolved without a lookup on the loop (an error when not known yet).
  using CredentialsLookup = std::function<Result<Credentials>(const std::string& user, const std::string& group)>;

  /// registry must outlive this.
  AppSockets(Registry& registry, CredentialsLookup credentials);

  /// The preload's request for a listening socket (a listen() of the app, as Node normalised
  /// it; untrusted): the app's socket for that address (bound now if it is the first), or an
  /// errno, answered on channel. preloaded: whether the instance's runs have the preload (only
  /// those ask for sockets; any other app gets EPERM).
  void answer_listen(Instance& in, NodeChannel& channel, const ipc::json& request, bool preloaded);
  /// Binds the sockets of a cluster-mode app that has none bound (at its start, or when it
  /// starts again after a stop released them). An error names the address.
  Result<bool> bind(App& app, const config::AppSpec& spec);
  /// After a state change of one of app's instances: which instance slots get new connections
  /// (the online ones), which keep their sockets (on their way, stopping) and which let them go
  /// (stopped; their queued connections move to a serving slot). See Listeners::set_slots.
  void update_slots(App& app);
  /// Closes a cluster-mode app's sockets once none of its instances is left that is not
  /// stopped: a stopped app frees its port.
  void release_if_idle(App& app);

 private:
  Registry& registry_;
  CredentialsLookup credentials_;
};

}  // namespace pmx::daemon
