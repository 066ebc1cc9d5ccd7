// StartOrder: `depends_on` in pmxd. An instance whose app depends on apps that are not all online
// and ready waits, `launching` with no pid, until they are; a new app naming an app pmxd does
// not have, or closing a cycle, is refused; stops go in waves, dependents first.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class StartOrder {
 public:
  explicit StartOrder(Registry& registry) : registry_(registry) {}

  /// Why in cannot start yet: "waiting for db", with what db is doing when it will not get
  /// ready by itself ("waiting for db (errored)"); "" when every app it depends on has all its
  /// instances online, and healthy where they have a health check.
  std::string blocker(const Instance& in) const;

  /// Holds in when it cannot start yet (its start_blocker says why): resume is called from
  /// check() once it can. False when it may start now.
  bool hold(Instance& in, std::function<void(Instance&)> resume);
  /// After a change of state: resumes the held instances that can start now, still launching
  /// with no pid, and updates the reasons of the others (a change is logged).
  void check();
  /// Forgets a held instance (stopped, restarted, deleted); true when it was held.
  bool cancel(int id);
  /// Held, waiting for an app that will not get ready by itself (errored, stopped, absent): a
  /// reply to start does not wait for it.
  bool stuck(const Instance& in) const;

  /// The depends_on of apps about to be added, checked with the apps pmxd has: a name that is
  /// neither, or a cycle ("a -> b -> a"), is the error; nullopt when they are fine.
  std::optional<std::string> check_new(const std::vector<config::AppSpec>& specs) const;

  /// ids (pm_id order) in waves to stop one after the other: the instances of apps no other
  /// targeted app depends on first, their dependencies once they are stopped.
  std::vector<std::vector<int>> stop_waves(const std::vector<int>& ids) const;

 private:
  /// Every instance of the app is online and, with a health check, healthy.
  bool app_ready(const std::string& name) const;
  /// What keeps the app named from being ready by itself: "errored", "stopped", "not in pmxd";
  /// "" when it is on its way (launching, restarting, waiting for its own dependencies).
  std::string app_at_rest(const std::string& name) const;

  Registry& registry_;
  std::map<int, std::function<void(Instance&)>> held_;  ///< by pm_id
  bool checking_ = false;  ///< check() runs: a nested call only asks for another round
  bool again_ = false;
};

}  // namespace pmx::daemon
