// Starting many apps from one file: what `pmx start` promises when it returns (every app online
// and named with its pid in state.json), kept when pmxd is killed at once afterwards.
#include <fstream>
#include <memory>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

constexpr int kHundredApps = 100;

/// An ecosystem file of kHundredApps apps: even ones the sleeper fixture (prints a line at start), odd
/// ones /bin/sleep (prints nothing: no capture journal is ever made for it).
std::string write_hundred(const TempHome& home) {
  json apps = json::array();
  for (int i = 0; i < kHundredApps; ++i) {
    json app = {{"name", "app" + std::to_string(i)}, {"autorestart", false}};
    if (i % 2 == 0) {
      app["script"] = bin::kSleeper;
    } else {
      app["script"] = "/bin/sleep";
      app["args"] = json::array({"600"});
    }
    apps.push_back(app);
  }
  const std::string path = home.scratch("hundred.json");
  std::ofstream(path) << json{{"apps", apps}}.dump(2);
  return path;
}

/// The pid each instance has in home's state.json, by name (0 when it has none).
std::map<std::string, long> recorded_pids(const TempHome& home) {
  std::map<std::string, long> pids;
  const auto text = read_file(home.path() + "/state.json");
  if (!text) return pids;
  const json state = json::parse(*text, nullptr, false);
  if (state.is_discarded()) return pids;
  for (const auto& in : state.value("instances", json::array())) {
    pids[in["spec"].value("name", "")] = in.value("pid", 0L);
  }
  return pids;
}

}  // namespace

TEST_CASE("pmx start of a file of 100 apps returns with each online and its pid in state.json, and a pmxd killed "
          "right after adopts them all",
          "[integration]") {
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home);
  const std::string file = write_hundred(home);
  const RunResult started = run_pmx(home.path(), {"start", file});
  REQUIRE_EXIT(started, 0);
  // Read before anything else can write it: the state the reply vouched for.
  const auto pids = recorded_pids(home);
  first->crash();

  CHECK(mentions(started.out, "app99"));  // the table of apps after the start
  REQUIRE(pids.size() == kHundredApps);
  for (const auto& [name, pid] : pids) {
    INFO(name);
    CHECK(pid > 0);
    CHECK(process_alive(static_cast<pid_t>(pid)));
  }

  DaemonProcess second(home);
  json after;
  REQUIRE(wait_until(
      [&] {
        after = jlist_of(home);
        int online = 0;
        for (const auto& e : after) online += e["pm2_env"]["status"] == "online";
        return after.size() == kHundredApps && online == kHundredApps;
      },
      10s));
  for (const auto& e : after) {
    const std::string name = e["name"];
    INFO(name);
    CHECK(e["pid"] == pids.at(name));  // adopted, not started again
    CHECK(e["pm2_env"]["restart_time"] == 0);
  }
  // The sleepers' one line each, captured once.
  auto out_log = [&](int i) { return read_lines(home.path() + "/logs/app" + std::to_string(i) + "-out.log"); };
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < kHundredApps; i += 2) {
          if (out_log(i).empty()) return false;
        }
        return true;
      },
      10s));
  for (int i = 0; i < kHundredApps; i += 2) {
    INFO("app" << i);
    CHECK(out_log(i).size() == 1);
  }
}
