// StateWriter on a fake disk: one write per turn of changes, a failed write tried again until
// it succeeds, nothing written after a clean exit. The retry's timer is the loop's; the test
// polls it with a deadline.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include "daemon/state/state_file.hpp"
#include "daemon/supervisor/state_writer.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeProcessOps;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

/// A disk whose next `failures` writes fail with ENOSPC; it keeps the last text written.
struct FakeDisk {
  int writes = 0;
  int failures = 0;
  std::string text;
  std::error_code write(const std::string&, const std::string& t) {
    ++writes;
    if (failures > 0) {
      --failures;
      return std::make_error_code(std::errc::no_space_on_device);
    }
    text = t;
    return {};
  }
};

struct WriterRig {
  WriterRig() : writer(io, "/nonexistent/state.json", registry, [this](const std::string& p, const std::string& t) {
                  return disk.write(p, t);
                }) {}
  void add(int id, const std::string& name) {
    auto spec = config::spec_from_json(json{{"name", name}, {"script", "/bin/sh"}});
    REQUIRE(spec);
    auto in = std::make_unique<Instance>(id, *spec);
    in->caller_env = std::make_shared<const config::Env>();
    registry.insert(std::move(in));
  }
  template <typename Pred>
  bool run_until(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  boost::asio::io_context io{1};
  Registry registry;
  FakeDisk disk;
  StateWriter writer;
};

}  // namespace

TEST_CASE("the changes of one turn of the loop make one write of every instance", "[state_writer]") {
  WriterRig rig;
  rig.add(0, "a");
  rig.add(1, "b");
  rig.writer.soon();
  rig.writer.soon();
  rig.writer.soon();
  rig.io.poll();
  CHECK(rig.disk.writes == 1);
  auto state = decode_state(rig.disk.text);
  REQUIRE(state);
  REQUIRE(state->instances.size() == 2);
  CHECK(state->instances[0].spec.name == "a");
  CHECK(state->instances[1].id == 1);
}

TEST_CASE("a state file that cannot be written is tried again until it is, and is no longer lagging then",
          "[state_writer]") {
  WriterRig rig;
  rig.add(0, "a");
  rig.disk.failures = 2;
  CHECK(rig.writer.now() == std::errc::no_space_on_device);
  CHECK(rig.writer.lagging());
  rig.writer.soon();  // folded into the retry's write
  REQUIRE(rig.run_until([&] { return rig.disk.writes == 3; }));
  CHECK_FALSE(rig.writer.lagging());
  rig.io.poll();
  CHECK(rig.disk.writes == 3);
  CHECK(decode_state(rig.disk.text));
}

TEST_CASE("after a clean exit the state file is removed and nothing is written any more", "[state_writer]") {
  SupervisorHome home;
  boost::asio::io_context io{1};
  Registry registry;
  const std::string path = home.path + "/state.json";
  StateWriter writer(io, path, registry);
  REQUIRE_FALSE(writer.now());
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  writer.forget();
  CHECK(::stat(path.c_str(), &st) != 0);
  writer.soon();
  io.poll();
  CHECK_FALSE(writer.now());
  CHECK(::stat(path.c_str(), &st) != 0);
}
