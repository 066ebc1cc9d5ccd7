// Node runtime metrics without a code change: every Node app (fork and cluster mode) runs with
// pmx's preload, which reports heap, handles and event-loop delay over the IPC channel; pmxd
// shows them in jlist's pm2_env.axm_monitor (PM2's shape and names), describe's "Code metrics"
// and the `metrics` request, with each instance's history. --no-pmx turns the preload off.
#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

namespace {

/// An HTTP server on an OS-chosen port (an active handle), as most Node apps are.
std::string write_node_server(const TempHome& home) {
  const std::string path = home.scratch("server.js");
  std::ofstream(path) << "require('http').createServer((q, r) => r.end('ok')).listen(0);\n";
  return path;
}

/// The app's pm2_env.axm_monitor, or an empty object when it has none (yet).
json axm_of(Session& s, const std::string& name) {
  auto app = s.find_app(name);
  if (!app) return json::object();
  return app->at("pm2_env").value("axm_monitor", json::object());
}

/// Waits until name's axm_monitor holds key; the last axm_monitor seen.
json wait_axm(Session& s, const std::string& name, const std::string& key, milliseconds timeout = 15s) {
  json axm;
  wait_until([&] {
    axm = axm_of(s, name);
    return axm.contains(key);
  }, timeout);
  return axm;
}

/// The `metrics` request's answer, over a raw connection.
json metrics_request(Session& s, const json& params) {
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  auto reply = c.call(1, "metrics", params);
  REQUIRE(reply);
  INFO(reply->dump());
  REQUIRE(reply->contains("result"));
  return reply->at("result");
}

}  // namespace

TEST_CASE("a fork-mode Node app reports heap, handles and event-loop latency in axm_monitor with PM2's names",
          "[integration][node][metrics]") {
  REQUIRE(have_node());
  Session s;
  REQUIRE_EXIT(s.pmx({"start", write_node_server(s.home), "--name", "web"}), 0);
  REQUIRE(s.wait_status("web", "online"));
  CHECK(s.app("web").at("pm2_env").at("exec_mode") == "fork_mode");
  const json axm = wait_axm(s, "web", "Event Loop Latency p99");
  INFO(axm.dump());
  for (const char* name : {"Heap Size", "Heap Usage", "Used Heap Size", "Active requests", "Active handles",
                           "Event Loop Latency", "Event Loop Latency p95", "Event Loop Latency p99"}) {
    INFO(name);
    REQUIRE(axm.contains(name));
    CHECK(axm.at(name).at("historic") == true);
  }
  CHECK(axm.at("Heap Size").at("unit") == "MiB");
  CHECK(axm.at("Heap Size").at("type") == "internal/v8/heap/total");
  CHECK(std::stod(axm.at("Heap Size").at("value").get<std::string>()) > 1.0);
  CHECK(axm.at("Active handles").at("value").get<int>() >= 1);  // the server
  CHECK(axm.at("Event Loop Latency").at("unit") == "ms");
  CHECK(std::stod(axm.at("Event Loop Latency").at("value").get<std::string>()) >= 0.0);
  CHECK(s.app("web").at("pm2_env").at("pmx_preload_errors") == 0);

  const RunResult described = s.pmx({"describe", "web"});
  CHECK(described.exit_code == 0);
  CHECK(mentions(described.out, "Code metrics"));
  CHECK(mentions(described.out, "Event Loop Latency p99"));
  CHECK(mentions(described.out, " MiB"));
}

TEST_CASE("every instance of a cluster-mode Node app reports its own metrics", "[integration][node][metrics]") {
  REQUIRE(have_node());
  Session s;
  REQUIRE_EXIT(s.pmx({"start", write_node_server(s.home), "--name", "web", "-i", "2"}), 0);
  REQUIRE(s.wait_status("web", "online"));
  REQUIRE(wait_until([&] {
    const json apps = s.jlist();
    int reporting = 0;
    for (const auto& app : apps) reporting += app.at("pm2_env").value("axm_monitor", json::object()).contains("Heap Size");
    return reporting == 2;
  }, 15s));
}

TEST_CASE("an app that blocks its event loop for 300 ms every second shows the stall in p99 and max",
          "[integration][node][metrics][regression]") {
  REQUIRE(have_node());
  Session s;
  const std::string path = s.home.scratch("stall.js");
  std::ofstream(path) << "setInterval(() => { const end = Date.now() + 300; while (Date.now() < end); }, 1000);\n";
  REQUIRE_EXIT(s.pmx({"start", path, "--name", "stall"}), 0);
  json axm;
  // Every report covers a second, so every one after the first stall holds one.
  const bool seen = wait_until([&] {
    axm = axm_of(s, "stall");
    return axm.contains("Event Loop Latency p99") &&
           std::stod(axm.at("Event Loop Latency p99").at("value").get<std::string>()) >= 250 &&
           std::stod(axm.at("Event Loop Latency max").at("value").get<std::string>()) >= 250;
  }, 20s);
  INFO(axm.dump());
  CHECK(seen);
  // The median stays the idle loop's: the stall is one sample of the second.
  CHECK(std::stod(axm.at("Event Loop Latency").at("value").get<std::string>()) < 100);
  // Not now and then but every second: each history point (the last report when the sampler
  // read it, one in 5 s) after the first holds the stall. Node's reset() drops the first delay
  // after it, and the preload's report runs just before the app's stall: without counting that
  // delay, most reports would miss it.
  json history;
  REQUIRE(wait_until([&] {
    history = metrics_request(s, {{"targets", {"stall"}}}).at("instances").at(0).at("history");
    return history.at("loop_p99_ms").size() >= 4;
  }, 40s));
  INFO(history.dump());
  const json& p99 = history.at("loop_p99_ms");
  for (std::size_t i = 1; i < p99.size(); ++i) CHECK(p99.at(i).get<double>() >= 250);
}

TEST_CASE("pmx: false and --no-pmx run a Node app without the preload and without metrics",
          "[integration][node][metrics]") {
  REQUIRE(have_node());
  Session s;
  const std::string path = s.home.scratch("argv.js");
  std::ofstream(path) << "console.log('execArgv=' + JSON.stringify(process.execArgv));\n"
                         "setInterval(() => {}, 1000);\n";
  const std::string eco = s.home.scratch("eco.json");
  std::ofstream(eco) << json{{"apps", json::array({{{"name", "plain"}, {"script", path}, {"pmx", false}}})}}.dump();
  REQUIRE_EXIT(s.pmx({"start", path, "--name", "bare", "--no-pmx"}), 0);
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  REQUIRE_EXIT(s.pmx({"start", path, "--name", "with"}), 0);
  // Once the app with the preload reports, the others, started before it, would have too.
  wait_axm(s, "with", "Heap Size");
  REQUIRE(axm_of(s, "with").contains("Heap Size"));
  for (const char* name : {"bare", "plain"}) {
    INFO(name);
    const json app = s.app(name);
    CHECK(app.at("pm2_env").at("pmx") == false);
    CHECK(app.at("pm2_env").at("axm_monitor") == json::object());
    const std::string out = app.at("pm2_env").at("pm_out_log_path");
    REQUIRE(wait_until([&] { return mentions(read_file(out).value_or(""), "execArgv="); }, 10s));
    CHECK(mentions(read_file(out).value_or(""), "execArgv=[]"));
  }
  CHECK(s.app("with").at("pm2_env").at("pmx") == true);
  const std::string with_out = s.app("with").at("pm2_env").at("pm_out_log_path");
  REQUIRE(wait_until([&] { return mentions(read_file(with_out).value_or(""), "execArgv="); }, 10s));
  CHECK(mentions(read_file(with_out).value_or(""), "pmx-node-preload.js"));
}

TEST_CASE("the preload keeps no Node app alive: one with nothing left to do exits 0 by itself",
          "[integration][node][metrics]") {
  REQUIRE(have_node());
  Session s;
  const std::string path = s.home.scratch("once.js");
  std::ofstream(path) << "setTimeout(() => console.log('done'), 1500);\n";
  REQUIRE_EXIT(s.pmx({"start", path, "--name", "once", "--no-autorestart"}), 0);
  REQUIRE(s.wait_status("once", "stopped", 15s));
  CHECK(s.app("once").at("pm2_env").at("exit_code") == 0);
}

TEST_CASE("the metrics request answers each instance's usage, axm_monitor and history, and only newer points",
          "[integration][node][metrics]") {
  REQUIRE(have_node());
  Session s;
  REQUIRE_EXIT(s.pmx({"start", write_node_server(s.home), "--name", "web"}), 0);
  REQUIRE(s.wait_status("web", "online"));
  json result;
  REQUIRE(wait_until([&] {
    result = metrics_request(s, json::object());
    const json& in = result.at("instances").at(0);
    return in.at("axm_monitor").contains("Heap Size") && !in.at("history").at("time").empty();
  }, 15s));
  const json& in = result.at("instances").at(0);
  CHECK(in.at("name") == "web");
  CHECK(in.at("status") == "online");
  CHECK(result.at("step") == 5);
  CHECK(result.at("capacity").get<int>() * result.at("step").get<int>() >= 600);
  for (const char* column : {"cpu", "memory", "loop_p99_ms"}) {
    CHECK(in.at("history").at(column).size() == in.at("history").at("time").size());
  }
  CHECK(in.at("history").at("memory").at(0).get<long long>() > 0);
  // A dashboard asks for what it does not have yet.
  const json newer = metrics_request(s, {{"targets", {"web"}}, {"since", result.at("time")}});
  CHECK(newer.at("instances").at(0).at("history").at("time").empty());
  const json bare = metrics_request(s, {{"history", false}});
  CHECK_FALSE(bare.at("instances").at(0).contains("history"));
  // Bad parameters are errors, and pmxd keeps serving.
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  for (const json& params : {json{{"since", "x"}}, json{{"since", -1}}, json{{"history", 3}}, json{{"targets", {"nope"}}}}) {
    auto reply = c.call(2, "metrics", params);
    REQUIRE(reply);
    CHECK(reply->contains("error"));
  }
  CHECK(s.pmx({"ping"}).exit_code == 0);
}
