// App: the instances that share a name, as the supervisor keeps them.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "daemon/listeners/file_watcher.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/listeners/listeners.hpp"

namespace pmx::daemon {

/// An app is its name and the instances started under it; it owns them. PM2's rule decides
/// what one app is: the name alone (NODE_APP_INSTANCE counts across every instance of a name).
/// Invariants: every instance's spec.name is name(), ids are unique, and the supervisor drops
/// an app whose last instance is removed, so an App it holds is never empty.
///
/// The namespace is not the app's: it stays each instance's spec option, because one name
/// may be started from specs with different namespaces (two entries of an ecosystem file, or
/// -f), and `pmx stop <namespace>` picks instances, as it always has.
///
/// Listeners: the sockets of a cluster-mode app live here, beside the instances, so that they
/// outlive each instance's restarts and reloads; the supervisor closes them when no instance is
/// left that is not stopped, and with the app.
class App {
 public:
  /// Instances by pm_id: iteration is in pm_id order.
  using Instances = std::map<int, std::unique_ptr<Instance>>;

  explicit App(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  /// Takes in, whose spec.name must be name() and whose id must be new to the app.
  Instance& add(std::unique_ptr<Instance> in);
  /// Destroys the instance with this id; false when the app has none.
  bool remove(int id);
  /// The instance with this id, or nullptr.
  Instance* find(int id) const;

  const Instances& instances() const { return instances_; }
  bool empty() const { return instances_.empty(); }

  /// NODE_APP_INSTANCE for a new instance: the smallest index no instance of the app holds.
  int free_app_instance() const;

  /// The app's file watcher while `watch` is on: one per app, however many instances.
  std::unique_ptr<FileWatcher> watcher;
  /// The sockets handed to every instance in cluster mode (none in fork mode).
  Listeners listeners;

 private:
  std::string name_;
  Instances instances_;
};

}  // namespace pmx::daemon
