// Apps that use @pm2/io (the real package from npm) work unmodified: their metrics (io.metric,
// counter, meter, histogram) appear in jlist's axm_monitor under their own names with their
// units, and in describe; their actions run with `pmx trigger`. The package is installed once
// per build tree with npm; without npm or a registry to reach, the tests are skipped (said so).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

namespace {

/// The folder holding node_modules/@pm2/io, installed at the first use; empty when it cannot be.
std::string pm2_io_folder() { return npm_package_folder("pm2-io", "@pm2/io", "@pm2/io@6"); }

/// An app as @pm2/io's README writes them: a gauge, a counter, a meter, a histogram, an action.
std::string write_pm2_io_app(const TempHome& home, const std::string& folder) {
  const std::string path = home.scratch("io_app.js");
  std::ofstream(path)
      << "const io = require('" << folder << "/node_modules/@pm2/io');\n"
         "const users = io.metric({ name: 'Realtime users', unit: 'users' });\n"
         "users.set(42);\n"
         "const done = io.counter({ name: 'Jobs done' });\n"
         "done.inc(); done.inc(); done.inc();\n"
         "const rate = io.meter({ name: 'req/sec' });\n"
         "const latency = io.histogram({ name: 'Job latency', measurement: 'mean', unit: 'ms' });\n"
         "latency.update(10); latency.update(30);\n"
         "io.action('ping', (reply) => reply({ pong: true }));\n"
         "setInterval(() => rate.mark(), 50);\n";
  return path;
}

}  // namespace

TEST_CASE("an unmodified @pm2/io app's metrics appear in axm_monitor and describe, its actions run",
          "[integration][node][metrics][pm2_io]") {
  REQUIRE(have_node());
  const std::string folder = pm2_io_folder();
  if (folder.empty()) {
    WARN("@pm2/io could not be installed from npm: skipped");
    return;
  }
  Session s;
  REQUIRE_EXIT(s.pmx({"start", write_pm2_io_app(s.home, folder), "--name", "io"}), 0);
  REQUIRE(s.wait_status("io", "online"));
  json axm;
  const bool all = wait_until([&] {
    auto app = s.find_app("io");
    axm = app ? app->at("pm2_env").value("axm_monitor", json::object()) : json::object();
    return axm.contains("Realtime users") && axm.contains("Jobs done") && axm.contains("req/sec") &&
           axm.contains("Job latency") && axm.contains("Heap Size");
  }, 20s);
  INFO(axm.dump());
  REQUIRE(all);
  CHECK(axm.at("Realtime users").at("value") == 42);
  CHECK(axm.at("Realtime users").at("unit") == "users");
  CHECK(axm.at("Jobs done").at("value") == 3);
  CHECK(axm.at("Job latency").at("unit") == "ms");
  CHECK(axm.at("Job latency").at("value") == 20);
  // The preload's runtime metrics sit beside @pm2/io's own, with pmx's measurement.
  CHECK(axm.at("Heap Size").at("type") == "internal/v8/heap/total");
  CHECK(axm.contains("Event Loop Latency p99"));

  const RunResult described = s.pmx({"describe", "io"});
  CHECK(mentions(described.out, "Code metrics"));
  CHECK(mentions(described.out, "Realtime users"));
  CHECK(mentions(described.out, "42 users"));

  RunResult ping;
  REQUIRE(wait_until([&] {
    ping = s.pmx({"trigger", "io", "ping"});
    return ping.exit_code == 0;
  }, 10s));
  CHECK(mentions(ping.out, "{\"pong\":true}"));
}
