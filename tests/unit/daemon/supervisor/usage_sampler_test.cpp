// UsageSampler on a fake process layer: which instances a tick reads, and which it names as
// over their memory limit. The ticks are called by hand: no timer is waited for.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "daemon/supervisor/usage_sampler.hpp"
#include "tests/unit/daemon/process/fake_timers.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeProcessOps;
using pmx::daemon::testing::FakeTimers;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

struct SamplerRig {
  explicit SamplerRig(const std::string& home)
      : server(io, home + "/pmx.sock"), sampler(timers, Millis(1000), ops, registry, server, [](const std::vector<int>&) {}) {}

  /// An instance of these options, online with a live (fake) process of rss bytes as pid.
  Instance& add_online(int id, json options, pid_t pid, std::uint64_t rss) {
    options["name"] = "app" + std::to_string(id);
    options["script"] = "/bin/sh";
    auto spec = config::spec_from_json(options);
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(id, *spec));
    (void)in.fsm.handle(Event::Start, Clock::now());
    (void)in.fsm.handle(Event::Spawned, Clock::now());
    REQUIRE(in.fsm.state() == State::Online);
    ops.add_foreign(pid, 100 + static_cast<std::uint64_t>(pid));
    ops.procs.at(pid).rss = rss;
    in.run.pid = pid;
    return in;
  }

  boost::asio::io_context io{1};
  FakeTimers timers;
  FakeProcessOps ops{io};
  Registry registry;
  ControlServer server;
  UsageSampler sampler;
};

}  // namespace

TEST_CASE("a tick names the online instances over max_memory_restart, and only those", "[usage_sampler]") {
  SupervisorHome home;
  SamplerRig rig(home.path);
  rig.add_online(0, {{"max_memory_restart", "100M"}}, 1000, 200u << 20);
  rig.add_online(1, {{"max_memory_restart", "100M"}}, 1001, 50u << 20);
  rig.add_online(2, json::object(), 1002, 900u << 20);  // no limit
  CHECK(rig.sampler.sample() == std::vector<int>{0});
  CHECK(rig.registry.find(0)->usage.rss_bytes == 200u << 20);
  CHECK(rig.registry.find(2)->usage.rss_bytes == 900u << 20);  // read at its first tick
}

TEST_CASE("an instance without a memory limit is read once every kSpread ticks, one with a limit every tick",
          "[usage_sampler]") {
  SupervisorHome home;
  SamplerRig rig(home.path);
  Instance& idle = rig.add_online(3, json::object(), 2000, 1u << 20);
  Instance& limited = rig.add_online(4, {{"max_memory_restart", "1G"}}, 2001, 1u << 20);
  rig.sampler.sample();  // the first tick reads everyone
  int idle_reads = 0;
  int limited_reads = 0;
  for (std::uint64_t tick = 0; tick < 2 * UsageSampler::kSpread; ++tick) {
    rig.ops.procs.at(2000).rss += 1;
    rig.ops.procs.at(2001).rss += 1;
    const auto idle_before = idle.usage.rss_bytes;
    const auto limited_before = limited.usage.rss_bytes;
    rig.sampler.sample();
    idle_reads += idle.usage.rss_bytes != idle_before;
    limited_reads += limited.usage.rss_bytes != limited_before;
  }
  CHECK(idle_reads == 2);
  CHECK(limited_reads == 2 * static_cast<int>(UsageSampler::kSpread));
}

TEST_CASE("an instance with no process has its reading cleared", "[usage_sampler]") {
  SupervisorHome home;
  SamplerRig rig(home.path);
  Instance& in = rig.add_online(0, json::object(), 3000, 5u << 20);
  rig.sampler.sample();
  REQUIRE(in.usage.rss_bytes == 5u << 20);
  in.run.pid = 0;
  rig.sampler.sample();
  CHECK(in.usage.rss_bytes == 0);
}

TEST_CASE("a reading adds a point to the instance's history, with the run's event-loop p99", "[usage_sampler][metrics]") {
  SupervisorHome home;
  SamplerRig rig(home.path);
  Instance& node = rig.add_online(0, json::object(), 4000, 8u << 20);
  Instance& other = rig.add_online(1, json::object(), 4001, 2u << 20);
  node.metrics.runtime = RuntimeMetrics{};
  node.metrics.runtime->loop_p99_ms = 301.5;
  rig.sampler.sample();
  REQUIRE(node.history.size() == 1);
  const HistoryPoint p = node.history.since(0).at(0);
  CHECK(p.rss_kib == 8u << 10);
  CHECK(p.loop_p99_ms == 301.5f);
  REQUIRE(other.history.size() == 1);
  CHECK(other.history.since(0).at(0).loop_p99_ms < 0);
  // Within the step (the next ticks come at once here): no second point.
  for (std::uint64_t tick = 0; tick < UsageSampler::kSpread; ++tick) rig.sampler.sample();
  CHECK(node.history.size() == 1);
}
