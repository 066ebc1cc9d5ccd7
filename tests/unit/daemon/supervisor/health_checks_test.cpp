// HealthChecks' schedule on fake time: the first probe an interval after the run's start, the
// next an interval after each one ended, failures within start_period not counted, `retries`
// failures in a row an unhealthy verdict at exactly that probe (a pass between starts the count
// over), an exec probe still running at its timeout killed then and counted as a failure. The
// probes are exec probes on the fake process layer: the test ends each one when it likes.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/supervisor/health_checks.hpp"
#include "tests/unit/daemon/process/fake_process_ops.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeProcessOps;
using pmx::daemon::testing::FakeLoop;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;
/// A verdict and when it came, counted from the run's start.
using Verdicts = std::vector<std::pair<Event, Millis>>;

namespace {

struct ChecksRig : FakeLoop {
  explicit ChecksRig(const std::string& home)
      : home_path(home),
        checks(
            io, timers, ops, registry, home,
            [](const std::string&, const std::string&) -> Result<Credentials> { return Error{"no users here"}; },
            [this](Instance&, Event event) { verdicts.emplace_back(event, elapsed()); }) {
    // The supervisor routes a reaped child to the checks first.
    ops.start_reaping([this](pid_t pid, ExitStatus exit) { checks.probe_exited(pid, exit); }, [] {});
  }

  /// Instance 0, online with a leader, checked by `exec ./check` with check's other options;
  /// its run starts now.
  Instance& online(json check) {
    check["exec"] = "./check";
    auto spec = config::spec_from_json(
        json{{"name", "svc"}, {"script", "/bin/sh"}, {"cwd", home_path}, {"health_check", std::move(check)}});
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(0, *spec));
    (void)in.fsm.handle(Event::Start, timers.now());
    (void)in.fsm.handle(Event::Spawned, timers.now());
    in.run.pid = 4000;  // a leader the fake never made: nothing here signals it
    start = timers.now();
    checks.update(in);
    return in;
  }
  Instance& in() { return *registry.find(0); }

  /// Moves the clock to the next probe, which starts `after` from now and not a millisecond
  /// before; its pid.
  pid_t next_probe(Millis after) {
    const std::size_t before = ops.spawned.size();
    advance(after - Millis(1));
    REQUIRE(ops.spawned.size() == before);
    advance(Millis(1));
    REQUIRE(ops.spawned.size() == before + 1);
    return ops.last();
  }
  /// The probe exits with code now.
  void ends(pid_t probe, int code) {
    ops.exit_code(probe, code);
    settle();
  }

  Millis elapsed() const { return std::chrono::duration_cast<Millis>(timers.now() - start); }

  std::string home_path;
  FakeProcessOps ops{io};
  Registry registry;
  TimePoint start = timers.now();
  Verdicts verdicts;
  HealthChecks checks;
};

}  // namespace

TEST_CASE("health checks: the first probe an interval after the start, the next an interval after each ended, and failures within start_period do not count",
          "[health_checks]") {
  SupervisorHome home;
  ChecksRig rig(home.path);
  rig.online({{"interval", 1000}, {"timeout", 500}, {"retries", 1}, {"start_period", 2500}});
  CHECK(rig.in().health.health == Health::Starting);

  const pid_t first = rig.next_probe(Millis(1000));
  CHECK(rig.ops.procs.at(first).request.argv == std::vector<std::string>{"./check"});
  rig.ends(first, 1);
  CHECK(rig.in().health.last_result == "failed: exit 1");
  const pid_t second = rig.next_probe(Millis(1000));
  rig.advance(Millis(499));
  rig.ends(second, 1);  // 2499 ms into the run: still in start_period
  CHECK(rig.in().health.failures == 0);
  CHECK(rig.in().health.health == Health::Starting);
  CHECK(rig.verdicts.empty());

  // The next probe an interval after the second one ended; the first failure that counts is
  // the one retries (1) asks for.
  const pid_t third = rig.next_probe(Millis(1000));
  CHECK(rig.elapsed() == Millis(3499));
  rig.ends(third, 1);
  CHECK(rig.verdicts == Verdicts{{Event::Unhealthy, Millis(3499)}});
  CHECK(rig.in().health.health == Health::Unhealthy);
}

TEST_CASE("health checks: retries failures in a row are an unhealthy verdict at exactly that probe, a pass between starts the count over",
          "[health_checks]") {
  SupervisorHome home;
  ChecksRig rig(home.path);
  rig.online({{"interval", 1000}, {"timeout", 500}, {"retries", 3}});
  for (const int code : {1, 1, 0, 1, 1}) rig.ends(rig.next_probe(Millis(1000)), code);
  // Two failures, a pass (the run's first: healthy), two failures: not three in a row.
  CHECK(rig.in().health.failures == 2);
  CHECK(rig.in().health.health == Health::Healthy);
  CHECK(rig.verdicts == Verdicts{{Event::Healthy, Millis(3000)}});

  rig.ends(rig.next_probe(Millis(1000)), 1);
  CHECK(rig.in().health.failures == 3);
  CHECK(rig.in().health.health == Health::Unhealthy);
  CHECK(rig.verdicts == Verdicts{{Event::Healthy, Millis(3000)}, {Event::Unhealthy, Millis(6000)}});
  CHECK(rig.in().health.last_result == "failed: exit 1");
}

TEST_CASE("health checks: an exec probe still running at its timeout is SIGKILLed then and counted as a failure at that moment",
          "[health_checks]") {
  SupervisorHome home;
  ChecksRig rig(home.path);
  rig.online({{"interval", 1000}, {"timeout", 300}, {"retries", 1}});
  const pid_t hung = rig.next_probe(Millis(1000));
  rig.advance(Millis(299));
  CHECK(rig.ops.procs.at(hung).signals.empty());
  CHECK(rig.checks.exec_probes() == 1);
  CHECK(rig.verdicts.empty());
  rig.advance(Millis(1));
  CHECK(rig.ops.procs.at(hung).signals == std::vector<int>{SIGKILL});
  CHECK(rig.checks.exec_probes() == 0);
  CHECK(rig.verdicts == Verdicts{{Event::Unhealthy, Millis(1300)}});
  CHECK(rig.in().health.last_result == "failed: timed out after 300 ms");

  // A probe that ends within its timeout is not killed: its deadline went with it.
  const pid_t quick = rig.next_probe(Millis(1000));
  CHECK(rig.elapsed() == Millis(2300));
  rig.advance(Millis(299));
  rig.ends(quick, 0);
  rig.advance(Millis(10));
  CHECK(rig.ops.procs.at(quick).signals.empty());
  CHECK(rig.verdicts.back() == std::pair<Event, Millis>{Event::Healthy, Millis(2599)});
}

TEST_CASE("health checks: a forgotten instance's probe is killed and nothing of its schedule is left", "[health_checks]") {
  SupervisorHome home;
  ChecksRig rig(home.path);
  rig.online({{"interval", 1000}, {"timeout", 300}});
  const pid_t probe = rig.next_probe(Millis(1000));
  rig.checks.forget(0);
  CHECK(rig.ops.procs.at(probe).signals == std::vector<int>{SIGKILL});
  CHECK(rig.timers.armed_count() == 0);
  rig.advance(Millis(10'000));
  CHECK(rig.ops.spawned.size() == 1);
  CHECK(rig.verdicts.empty());
}
