// RestartTriggers: what restarts an app other than its own end: cron_restart (one deadline per
// instance, on the wall clock's schedule) and `watch` (one file watcher per app, pmx's own files
// ignored). Each asks the supervisor for a graceful restart; none fires while pmxd shuts down.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/instance/app.hpp"
#include "daemon/instance/instance.hpp"
#include "daemon/process/timers.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class RestartTriggers {
 public:
  /// Restarts one instance (Event::Restart through the state machine).
  using Restart = std::function<void(Instance& in)>;

  /// registry must outlive this; shutting_down says whether pmxd is stopping to exit.
  /// cron's deadlines are armed on timers, its schedule read in their wall clock.
  RestartTriggers(boost::asio::io_context& io, Timers& timers, std::string home, Registry& registry,
                  std::function<bool()> shutting_down, Restart restart);
  RestartTriggers(const RestartTriggers&) = delete;
  RestartTriggers& operator=(const RestartTriggers&) = delete;

  /// Arms the instance's next cron_restart (none without the option).
  void arm_cron(Instance& in);
  /// Starts or stops the app's file watcher to match its instances' `watch` option.
  void update_watch(App& app);
  /// What an app's watcher reports: a burst of changes (path the first of them) restarts its
  /// running instances, as watch; nothing while pmxd shuts down.
  void files_changed(const std::string& app_name, const std::string& path, std::size_t changes);
  /// Turns watching on or off (nullopt: flips it) for the apps of ids; the caller persists.
  void set_watch(const std::vector<int>& ids, std::optional<bool> on);
  /// Whether pmx itself writes path (an app's log or pid file, its own files in its home).
  bool written_by_pmx(const std::string& path) const;

 private:
  boost::asio::io_context& io_;
  Timers& timers_;
  std::string home_;
  Registry& registry_;
  std::function<bool()> shutting_down_;
  Restart restart_;
};

}  // namespace pmx::daemon
