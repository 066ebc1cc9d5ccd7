// RestartTriggers: which files count as pmx's own for `watch`, watching turned on, off and
// flipped per app, and a cron_restart that restarts an online instance, or nothing while pmxd
// shuts down. The cron's deadlines are on fake timers: the test moves the clock.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon/supervisor/restart_triggers.hpp"
#include "tests/unit/daemon/process/fake_timers.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeTimers;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

struct TriggersRig {
  explicit TriggersRig(const std::string& home)
      : home_path(home),
        triggers(io, timers, home, registry, [this] { return shutting_down; },
                 [this](Instance& in) { restarted.push_back(in.id); }) {}

  Instance& add(int id, json options) {
    if (!options.contains("name")) options["name"] = "app";
    options["script"] = "/bin/sh";
    options["cwd"] = home_path;
    auto spec = config::spec_from_json(options);
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(id, *spec));
    triggers.arm_cron(in);
    triggers.update_watch(*registry.app(in.spec.name));
    return in;
  }
  void online(Instance& in) {
    (void)in.fsm.handle(Event::Start, Clock::now());
    (void)in.fsm.handle(Event::Spawned, Clock::now());
    REQUIRE(in.fsm.state() == State::Online);
  }

  std::string home_path;
  boost::asio::io_context io{1};
  /// 2026-01-01 00:00:03.250 UTC on the wall clock (a time zone moves whole quarter hours: the
  /// seconds are :03.250 in local time too).
  FakeTimers timers{Clock::now(), WallTime(std::chrono::seconds(1767225603)) + std::chrono::milliseconds(250)};
  Registry registry;
  bool shutting_down = false;
  std::vector<int> restarted;
  RestartTriggers triggers;
};

}  // namespace

TEST_CASE("pmx's own files and every instance's log and pid files do not count as changes", "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  Instance& in = rig.add(0, json::object());
  in.out_path = "/srv/app/out.log";
  in.pid_path = "/srv/app/app.pid";
  CHECK(rig.triggers.written_by_pmx(home.path + "/logs/app-out.log"));
  CHECK(rig.triggers.written_by_pmx(home.path + "/state.json"));
  CHECK(rig.triggers.written_by_pmx("/srv/app/out.log"));
  CHECK(rig.triggers.written_by_pmx("/srv/app/app.pid"));
  CHECK_FALSE(rig.triggers.written_by_pmx("/srv/app/index.js"));
  CHECK_FALSE(rig.triggers.written_by_pmx(home.path + "/app.js"));
}

TEST_CASE("watching is turned on, off and flipped for every instance of the app", "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  rig.add(0, {{"name", "w"}});
  rig.add(1, {{"name", "w"}});
  App& app = *rig.registry.app("w");
  CHECK_FALSE(app.watcher);
  rig.triggers.set_watch({0}, true);
  CHECK(app.watcher);
  CHECK(rig.registry.find(1)->spec.watch);
  rig.triggers.set_watch({1}, std::nullopt);  // a toggle flips what the app does now
  CHECK_FALSE(app.watcher);
  CHECK_FALSE(rig.registry.find(0)->spec.watch);
}

TEST_CASE("cron_restart restarts an online instance at the schedule's next time, and nothing while pmxd shuts down",
          "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  Instance& in = rig.add(0, {{"cron_restart", "*/10 * * * * *"}});
  rig.online(in);
  // :03.250 now, the next time is :10.000: not a millisecond before.
  rig.timers.advance(Millis(6749));
  CHECK(rig.restarted.empty());
  rig.timers.advance(Millis(1));
  REQUIRE(rig.restarted == std::vector<int>{0});
  CHECK(rig.registry.find(0)->restart_cause == ExitReason::Cron);
  // Then every 10 s.
  rig.timers.advance(Millis(10000));
  CHECK(rig.restarted == std::vector<int>{0, 0});
  // Shutting down: the next firing restarts nothing, and the schedule ends there.
  rig.shutting_down = true;
  rig.timers.advance(Millis(10000));
  CHECK(rig.restarted == std::vector<int>{0, 0});
  CHECK(rig.timers.armed_count() == 0);  // no cron armed again
}

TEST_CASE("an instance not online when its cron_restart comes is not restarted, and the schedule goes on",
          "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  rig.add(0, {{"cron_restart", "*/10 * * * * *"}});  // stopped
  rig.timers.advance(Millis(6750));
  CHECK(rig.restarted.empty());
  CHECK(rig.timers.armed_count() == 1);
}

TEST_CASE("a deleted instance's cron_restart never fires", "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  Instance& in = rig.add(0, {{"cron_restart", "*/10 * * * * *"}});
  rig.online(in);
  rig.registry.erase(0);
  CHECK(rig.timers.armed_count() == 0);
  rig.timers.advance(Millis(20000));
  CHECK(rig.restarted.empty());
}

TEST_CASE("a watched change restarts the app's running instances for watch, not its stopped ones, and nothing while pmxd shuts down",
          "[restart_triggers][watch]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  Instance& running = rig.add(0, {{"name", "dev"}});
  rig.online(running);
  rig.add(1, {{"name", "dev"}});  // stopped
  rig.triggers.files_changed("dev", rig.home_path + "/server.js", 3);
  CHECK(rig.restarted == std::vector<int>{0});
  CHECK(running.restart_cause == ExitReason::Watch);
  CHECK_FALSE(rig.registry.find(1)->restart_cause);
  rig.triggers.files_changed("gone", rig.home_path + "/server.js", 1);  // an app deleted meanwhile
  rig.shutting_down = true;
  rig.triggers.files_changed("dev", rig.home_path + "/server.js", 1);
  CHECK(rig.restarted == std::vector<int>{0});
}
