#include "config/dump.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace pmx::config;

namespace {

SavedInstance saved(int id, const std::string& name, bool stopped) {
  SavedInstance in;
  in.pm_id = id;
  in.spec.name = name;
  in.spec.script = "/srv/" + name + ".js";
  in.spec.interpreter = "node";
  in.spec.namespace_ = "shop";
  in.spec.env = {{"APP_OWN", "1"}};
  in.env = {{"PATH", "/usr/bin"}, {"FOO", "bar baz"}};
  in.stopped = stopped;
  return in;
}

}  // namespace

TEST_CASE("a dump reads back as it was written", "[dump]") {
  const std::string text = encode_dump({saved(0, "api", false), saved(4, "worker", true)}, "2026-11-28T12:00:00Z");
  auto back = decode_dump(text);
  REQUIRE(back);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0].pm_id == 0);
  CHECK((*back)[0].spec.name == "api");
  CHECK((*back)[0].spec.namespace_ == "shop");
  CHECK((*back)[0].spec.env.at("APP_OWN") == "1");
  CHECK((*back)[0].env.at("FOO") == "bar baz");
  CHECK_FALSE((*back)[0].stopped);
  CHECK((*back)[1].pm_id == 4);
  CHECK((*back)[1].stopped);
}

TEST_CASE("a truncated or foreign dump is refused with what is wrong", "[dump]") {
  const std::string text = encode_dump({saved(0, "api", false)}, "2026-11-28T12:00:00Z");
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, text.size() / 2, text.size() - 3}) {
    INFO("cut at " << cut);
    auto r = decode_dump(text.substr(0, cut));
    REQUIRE_FALSE(r);
  }
  CHECK(decode_dump("").error() == "the file is empty");
  CHECK(decode_dump("[]").error().find("not a pmx dump") != std::string::npos);
  CHECK(decode_dump(R"({"pmx_dump": 9, "apps": []})").error().find("format 9") != std::string::npos);
  auto bad_spec = decode_dump(R"({"pmx_dump": 1, "apps": [{"pm_id": 0, "spec": {"name": "x", "script": "/x", "instances": "lots"}}]})");
  REQUIRE_FALSE(bad_spec);
  CHECK(bad_spec.error().find("apps[0]") != std::string::npos);
  CHECK_FALSE(decode_dump(std::string(100000, '[')));  // too deep: refused before parsing
}

TEST_CASE("a dump's pm_id must be -1 or an id up to kMaxPmId: the next id is one more and must not overflow",
          "[dump][regression]") {
  auto with_id = [](const std::string& id) {
    return R"({"pmx_dump":1,"apps":[{"pm_id":)" + id + R"(,"status":"online","spec":{"name":"a","script":"/bin/true"}}]})";
  };
  CHECK((*decode_dump(with_id("7")))[0].pm_id == 7);
  CHECK((*decode_dump(with_id("-1")))[0].pm_id == -1);
  CHECK((*decode_dump(with_id(std::to_string(kMaxPmId))))[0].pm_id == kMaxPmId);
  for (const char* bad : {"2147483647", "4294967296", "-2", "1.5", "1e300", "\"3\"", "true"}) {
    INFO(bad);
    const auto decoded = decode_dump(with_id(bad));
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().find("pm_id") != std::string::npos);
  }
  // PM2's file: an id pmx cannot give again means any id.
  const auto pm2 = from_pm2_dump(R"([{"name":"a","pm_exec_path":"/bin/true","pm_id":2147483647}])");
  REQUIRE(pm2);
  CHECK((*pm2)[0].pm_id == -1);
}

TEST_CASE("PM2's dump.pm2 is read into pmx's options, without PM2's own variables", "[dump]") {
  // The shape `pm2 save` writes (PM2 6), abridged: options, status and env side by side.
  const char* pm2 = R"([
    {"name": "web", "pm_id": 0, "pm_exec_path": "/srv/app/srv.js", "pm_cwd": "/srv/app",
     "exec_interpreter": "node", "node_args": ["--max-old-space-size=200"], "args": ["--port", "80"],
     "exec_mode": "cluster_mode", "instances": 2, "namespace": "default", "status": "online",
     "max_memory_restart": 104857600, "autorestart": true, "watch": false, "kill_retry_time": 100,
     "pm_out_log_path": "/root/.pm2/logs/web-out.log", "pm_err_log_path": "/root/.pm2/logs/web-error.log",
     "pm_pid_path": "/root/.pm2/pids/web-0.pid", "vizion": true, "treekill": true, "PORT": "3000",
     "restart_time": 4, "created_at": 1795869722491, "axm_options": {"metrics": {}},
     "env": {"PORT": "3000", "PATH": "/usr/bin", "PM2_HOME": "/root/.pm2", "PM2_USAGE": "CLI",
             "unique_id": "7fe0", "web": {}, "NODE_APP_INSTANCE": 0, "_": "/usr/bin/pm2"}},
    {"name": "cron", "pm_id": 3, "pm_exec_path": "/srv/app/job.sh", "pm_cwd": "/srv/app",
     "exec_interpreter": "bash", "exec_mode": "fork_mode", "status": "stopped", "env": {}},
    {"name": "pm2-logrotate", "pm_id": 4, "pmx_module": true, "pm_exec_path": "/root/.pm2/modules/x.js"}
  ])";
  auto r = from_pm2_dump(pm2);
  INFO((r ? "" : r.error()));
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  const auto& web = (*r)[0];
  CHECK(web.pm_id == 0);
  CHECK(web.spec.script == "/srv/app/srv.js");
  CHECK(web.spec.cwd == "/srv/app");
  CHECK(web.spec.interpreter == "node");
  CHECK(web.spec.interpreter_args == std::vector<std::string>{"--max-old-space-size=200"});
  CHECK(web.spec.args == std::vector<std::string>{"--port", "80"});
  CHECK(web.spec.exec_mode == "cluster");
  CHECK(web.spec.instances == 1);  // each process is its own entry
  CHECK(web.spec.max_memory_restart == 104857600u);
  CHECK(web.spec.out_file == "/root/.pm2/logs/web-out.log");
  CHECK(web.spec.pid_file.empty());
  CHECK_FALSE(web.stopped);
  CHECK(web.env.at("PORT") == "3000");
  CHECK(web.env.at("PATH") == "/usr/bin");
  CHECK(web.env.at("NODE_APP_INSTANCE") == "0");
  for (const char* own : {"PM2_HOME", "PM2_USAGE", "unique_id", "web", "_"}) CHECK(web.env.count(own) == 0);
  const auto& cron = (*r)[1];
  CHECK(cron.pm_id == 3);
  CHECK(cron.spec.exec_mode == "fork");
  CHECK(cron.stopped);
  CHECK_FALSE(from_pm2_dump("{}"));
  CHECK(from_pm2_dump("[{\"name\": 3}]").error().find("process 0") != std::string::npos);
}
