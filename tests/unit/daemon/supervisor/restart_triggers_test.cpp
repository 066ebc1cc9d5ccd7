// RestartTriggers: which files count as pmx's own for `watch`, watching turned on, off and
// flipped per app, and a cron_restart that restarts an online instance, or nothing while pmxd
// shuts down. The cron's timer is the loop's; the test polls it with a deadline.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon/supervisor/restart_triggers.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

struct TriggersRig {
  explicit TriggersRig(const std::string& home)
      : home_path(home),
        triggers(io, home, registry, [this] { return shutting_down; },
                 [this](Instance& in) { restarted.push_back(in.id); }) {}

  Instance& add(int id, json options) {
    if (!options.contains("name")) options["name"] = "app";
    options["script"] = "/bin/sh";
    options["cwd"] = home_path;
    auto spec = config::spec_from_json(options);
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(io, id, *spec));
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

TEST_CASE("cron_restart restarts an online instance, and nothing while pmxd shuts down", "[restart_triggers]") {
  SupervisorHome home;
  TriggersRig rig(home.path);
  Instance& in = rig.add(0, {{"cron_restart", "* * * * * *"}});
  rig.online(in);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rig.restarted.empty() && std::chrono::steady_clock::now() < deadline) {
    rig.io.run_one_for(std::chrono::milliseconds(50));
  }
  REQUIRE(rig.restarted == std::vector<int>{0});
  // Shutting down: the next second's firing restarts nothing, and the schedule ends there.
  rig.shutting_down = true;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until && rig.io.run_one_for(std::chrono::milliseconds(50)) == 0) {
  }
  CHECK(rig.restarted == std::vector<int>{0});
  rig.io.restart();
  CHECK(rig.io.poll() == 0);  // no cron armed again
}
