// Tests of config/app_spec.hpp: JSON reading with PM2's names and aliases, validation,
// round trips, shell word splitting, signal names and file names.
#include "config/app_spec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <limits>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmx::config {
namespace {

using json = nlohmann::json;
using Words = std::vector<std::string>;

// The smallest valid app, with the extra options merged in.
json app(json extra = json::object()) {
  json j{{"name", "api"}, {"script", "/srv/api/server.js"}};
  j.update(extra);
  return j;
}

AppSpec read_ok(const json& j) {
  auto r = spec_from_json(j);
  INFO(j.dump() << (r.ok() ? "" : " -> " + r.error()));
  REQUIRE(r.ok());
  return *r;
}

// Fails, and the message names the option.
void read_fails(const json& j, const std::string& option) {
  auto r = spec_from_json(j);
  INFO(j.dump());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains(option));
}

TEST_CASE("spec_from_json: defaults are PM2's", "[app_spec]") {
  AppSpec s = read_ok(app());
  CHECK(s.name == "api");
  CHECK(s.script == "/srv/api/server.js");
  CHECK(s.args.empty());
  CHECK(s.interpreter.empty());
  CHECK(s.interpreter_args.empty());
  CHECK(s.namespace_ == "default");
  CHECK(s.instances == 1);
  CHECK(s.env.empty());
  CHECK(s.autorestart);
  CHECK(s.max_restarts == 16);
  CHECK(s.min_uptime_ms == 1000);
  CHECK(s.restart_delay_ms == 0);
  CHECK(s.exp_backoff_restart_delay_ms == 0);
  CHECK(s.exp_backoff_max_ms == 15000);
  CHECK(s.stop_exit_codes.empty());
  CHECK(s.kill_timeout_ms == 1600);
  CHECK(s.kill_signal == "SIGINT");
  CHECK(s.max_memory_restart == 0);
  CHECK(s.out_file.empty());
  CHECK(s.error_file.empty());
  CHECK(s.pid_file.empty());
}

TEST_CASE("spec_from_json: an app must be an object", "[app_spec]") {
  CHECK_FALSE(spec_from_json(json::array()).ok());
  CHECK_FALSE(spec_from_json(json("api")).ok());
  CHECK_FALSE(spec_from_json(json(nullptr)).ok());
  CHECK_FALSE(spec_from_json(json(3)).ok());
}

TEST_CASE("spec_from_json: script is required, with its aliases exec, cmd, command", "[app_spec]") {
  read_fails(json{{"name", "api"}}, "script");
  read_fails(app({{"script", ""}}), "script");
  read_fails(app({{"script", 5}}), "script");
  CHECK(read_ok(json{{"name", "a"}, {"exec", "/bin/a"}}).script == "/bin/a");
  CHECK(read_ok(json{{"name", "a"}, {"cmd", "/bin/b"}}).script == "/bin/b");
  CHECK(read_ok(json{{"name", "a"}, {"command", "/bin/c"}}).script == "/bin/c");
  // The PM2 name wins over the aliases.
  CHECK(read_ok(json{{"name", "a"}, {"script", "/bin/s"}, {"exec", "/bin/e"}}).script == "/bin/s");
  // null counts as absent: the alias is used.
  CHECK(read_ok(json{{"name", "a"}, {"script", nullptr}, {"exec", "/bin/e"}}).script == "/bin/e");
}

TEST_CASE("spec_from_json: name must be a usable, non-numeric string", "[app_spec]") {
  read_fails(app({{"name", 5}}), "name");
  read_fails(app({{"name", ""}}), "name");
  read_fails(app({{"name", "0"}}), "name");
  read_fails(app({{"name", "42"}}), "name");
  read_fails(app({{"name", "all"}}), "name");
  read_fails(app({{"name", "a/b"}}), "name");
  read_fails(app({{"name", "a\nb"}}), "name");
  read_fails(app({{"name", "a\rb"}}), "name");
  CHECK(read_ok(app({{"name", "api-2"}})).name == "api-2");
  CHECK(read_ok(app({{"name", "42a"}})).name == "42a");
  CHECK(read_ok(app({{"name", "All"}})).name == "All");
  CHECK(read_ok(app({{"name", "my app"}})).name == "my app");
}

TEST_CASE("spec_from_json: args as a shell string or as a list", "[app_spec]") {
  CHECK(read_ok(app({{"args", "--port 80 --msg 'hi there'"}})).args ==
        Words{"--port", "80", "--msg", "hi there"});
  CHECK(read_ok(app({{"args", json::array({"--port", "80", "a b"})}})).args ==
        Words{"--port", "80", "a b"});
  CHECK(read_ok(app({{"args", json::array({"-n", 3, 1.5})}})).args == Words{"-n", "3", "1.5"});
  CHECK(read_ok(app({{"args", ""}})).args.empty());
  CHECK(read_ok(app({{"args", json::array()}})).args.empty());
  read_fails(app({{"args", "'unterminated"}}), "args");
  read_fails(app({{"args", 5}}), "args");
  read_fails(app({{"args", json::object()}}), "args");
  read_fails(app({{"args", json::array({"ok", json::object()})}}), "args");
  read_fails(app({{"args", json::array({"ok", true})}}), "args");
}

TEST_CASE("spec_from_json: interpreter and its aliases, none means exec directly", "[app_spec]") {
  CHECK(read_ok(app({{"interpreter", "python3"}})).interpreter == "python3");
  CHECK(read_ok(app({{"exec_interpreter", "ruby"}})).interpreter == "ruby");
  CHECK(read_ok(app({{"execInterpreter", "perl"}})).interpreter == "perl");
  CHECK(read_ok(app({{"interpreter", "none"}})).interpreter.empty());
  CHECK(read_ok(app({{"exec_interpreter", "none"}})).interpreter.empty());
  CHECK(read_ok(app({{"interpreter", "bash"}, {"exec_interpreter", "node"}})).interpreter == "bash");
  read_fails(app({{"interpreter", 1}}), "interpreter");
  read_fails(app({{"exec_interpreter", true}}), "interpreter");
}

TEST_CASE("spec_from_json: interpreter_args and its aliases node_args, camelCase", "[app_spec]") {
  CHECK(read_ok(app({{"interpreter_args", "--harmony --max-old-space-size=128"}})).interpreter_args ==
        Words{"--harmony", "--max-old-space-size=128"});
  CHECK(read_ok(app({{"node_args", "--inspect"}})).interpreter_args == Words{"--inspect"});
  CHECK(read_ok(app({{"interpreterArgs", json::array({"-u"})}})).interpreter_args == Words{"-u"});
  CHECK(read_ok(app({{"nodeArgs", json::array({"-r", "x"})}})).interpreter_args ==
        Words{"-r", "x"});
  read_fails(app({{"node_args", 3}}), "interpreter_args");
  read_fails(app({{"interpreter_args", "\"open"}}), "interpreter_args");
}

TEST_CASE("spec_from_json: cwd and namespace are strings, namespace not empty", "[app_spec]") {
  AppSpec s = read_ok(app({{"cwd", "/srv/api"}, {"namespace", "web"}}));
  CHECK(s.cwd == "/srv/api");
  CHECK(s.namespace_ == "web");
  read_fails(app({{"cwd", 1}}), "cwd");
  read_fails(app({{"namespace", json::array()}}), "namespace");
  read_fails(app({{"namespace", ""}}), "namespace");
}

TEST_CASE("spec_from_json: instances is a count, max, 0 or -N (PM2's CPU-relative forms)", "[app_spec]") {
  const int cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  CHECK(read_ok(app({{"instances", 4}})).instances == 4);
  CHECK(read_ok(app({{"instances", "3"}})).instances == 3);
  CHECK(read_ok(app({{"instances", "max"}})).instances == cpus);
  CHECK(read_ok(app({{"instances", 0}})).instances == cpus);
  CHECK(read_ok(app({{"instances", -1}})).instances == std::max(1, cpus - 1));
  CHECK(read_ok(app({{"instances", -64}})).instances == 1);  // a result <= 0 becomes 1
  read_fails(app({{"instances", "many"}}), "instances");
  read_fails(app({{"instances", "3x"}}), "instances");
  read_fails(app({{"instances", ""}}), "instances");
  read_fails(app({{"instances", 1.5}}), "instances");
  read_fails(app({{"instances", true}}), "instances");
  read_fails(app({{"instances", 3'000'000'000LL}}), "instances");
}

TEST_CASE("resolve_instances: CPUs for 0, CPUs - N for -N, at least 1", "[app_spec]") {
  CHECK(resolve_instances(3, 8) == 3);
  CHECK(resolve_instances(0, 8) == 8);
  CHECK(resolve_instances(-2, 8) == 6);
  CHECK(resolve_instances(-8, 8) == 1);
}

TEST_CASE("spec_from_json: validate rejects instances < 1 set directly", "[app_spec]") {
  AppSpec s = read_ok(app());
  s.instances = 0;
  auto r = validate(s);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("instances"));
  s.instances = 1;
  CHECK(validate(s).ok());
}

TEST_CASE("spec_from_json: env is an object whose values become strings", "[app_spec]") {
  AppSpec s = read_ok(app({{"env",
                            {{"PORT", 8080},
                             {"NODE_ENV", "production"},
                             {"DEBUG", true},
                             {"EMPTY", nullptr},
                             {"OBJ", {{"a", 1}}}}}}));
  CHECK(s.env.at("PORT") == "8080");
  CHECK(s.env.at("NODE_ENV") == "production");
  CHECK(s.env.at("DEBUG") == "true");
  CHECK(s.env.at("EMPTY").empty());
  CHECK(json::parse(s.env.at("OBJ")) == json{{"a", 1}});
  read_fails(app({{"env", "PORT=1"}}), "env");
  read_fails(app({{"env", json::array({"PORT=1"})}}), "env");
}

TEST_CASE("spec_from_json: autorestart is a boolean or 'true'/'false'", "[app_spec]") {
  CHECK_FALSE(read_ok(app({{"autorestart", false}})).autorestart);
  CHECK(read_ok(app({{"autorestart", true}})).autorestart);
  CHECK_FALSE(read_ok(app({{"autorestart", "false"}})).autorestart);
  CHECK(read_ok(app({{"autorestart", "true"}})).autorestart);
  read_fails(app({{"autorestart", 0}}), "autorestart");
  read_fails(app({{"autorestart", "no"}}), "autorestart");
}

TEST_CASE("spec_from_json: max_restarts and maxRestarts, an integer >= 0", "[app_spec]") {
  CHECK(read_ok(app({{"max_restarts", 3}})).max_restarts == 3);
  CHECK(read_ok(app({{"maxRestarts", 7}})).max_restarts == 7);
  CHECK(read_ok(app({{"max_restarts", 0}})).max_restarts == 0);
  CHECK(read_ok(app({{"max_restarts", "5"}})).max_restarts == 5);
  CHECK(read_ok(app({{"max_restarts", 2}, {"maxRestarts", 9}})).max_restarts == 2);
  read_fails(app({{"max_restarts", -1}}), "max_restarts");
  read_fails(app({{"maxRestarts", "x"}}), "max_restarts");
  read_fails(app({{"maxRestarts", 2.5}}), "max_restarts");
}

TEST_CASE("spec_from_json: durations as milliseconds or strings with units", "[app_spec]") {
  AppSpec s = read_ok(app({{"min_uptime", "5s"},
                           {"restart_delay", 250u},
                           {"exp_backoff_restart_delay", "100ms"},
                           {"exp_backoff_restart_delay_max", "1m"},
                           {"kill_timeout", "3000"}}));
  CHECK(s.min_uptime_ms == 5000);
  CHECK(s.restart_delay_ms == 250);
  CHECK(s.exp_backoff_restart_delay_ms == 100);
  CHECK(s.exp_backoff_max_ms == 60'000);
  CHECK(s.kill_timeout_ms == 3000);
  CHECK(read_ok(app({{"min_uptime", 1500.7}})).min_uptime_ms == 1500);
}

TEST_CASE("spec_from_json: durations and sizes parsed from JSON text", "[app_spec]") {
  AppSpec s = read_ok(json::parse(
      R"({"name":"a","script":"/a","restart_delay":250,"kill_timeout":0,"max_memory_restart":1024})"));
  CHECK(s.restart_delay_ms == 250);
  CHECK(s.kill_timeout_ms == 0);
  CHECK(s.max_memory_restart == 1024);
  read_fails(json::parse(R"({"name":"a","script":"/a","min_uptime":-5})"), "min_uptime");
}

TEST_CASE("spec_from_json: durations and sizes from signed C++ integers", "[app_spec]") {
  json j = app({{"restart_delay", 250}, {"kill_timeout", 0}, {"max_memory_restart", 1024}});
  REQUIRE(j.at("restart_delay").is_number_integer());
  REQUIRE_FALSE(j.at("restart_delay").is_number_unsigned());
  auto r = spec_from_json(j);
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  CHECK(r->restart_delay_ms == 250);
  CHECK(r->kill_timeout_ms == 0);
  CHECK(r->max_memory_restart == 1024);
}

TEST_CASE("spec_from_json: duration camelCase aliases", "[app_spec]") {
  AppSpec s = read_ok(app({{"minUptime", "2s"},
                           {"restartDelay", "1s"},
                           {"expBackoffRestartDelay", 100u},
                           {"expBackoffRestartDelayMax", "10s"},
                           {"killTimeout", "5s"}}));
  CHECK(s.min_uptime_ms == 2000);
  CHECK(s.restart_delay_ms == 1000);
  CHECK(s.exp_backoff_restart_delay_ms == 100);
  CHECK(s.exp_backoff_max_ms == 10'000);
  CHECK(s.kill_timeout_ms == 5000);
}

TEST_CASE("spec_from_json: bad durations name the option", "[app_spec]") {
  read_fails(app({{"min_uptime", "5x"}}), "min_uptime");
  read_fails(app({{"minUptime", "5x"}}), "min_uptime");
  read_fails(app({{"restart_delay", -1}}), "restart_delay");
  read_fails(app({{"restart_delay", -1.5}}), "restart_delay");
  read_fails(app({{"exp_backoff_restart_delay", true}}), "exp_backoff_restart_delay");
  read_fails(app({{"exp_backoff_restart_delay_max", "1.5"}}), "exp_backoff_restart_delay_max");
  read_fails(app({{"kill_timeout", json::array()}}), "kill_timeout");
  read_fails(app({{"killTimeout", ""}}), "kill_timeout");
}

TEST_CASE("spec_from_json: max_memory_restart as bytes or a size string", "[app_spec]") {
  CHECK(read_ok(app({{"max_memory_restart", "150M"}})).max_memory_restart == 150ull << 20);
  CHECK(read_ok(app({{"maxMemoryRestart", "1G"}})).max_memory_restart == 1ull << 30);
  CHECK(read_ok(app({{"max_memory_restart", 1048576u}})).max_memory_restart == 1ull << 20);
  CHECK(read_ok(app({{"max_memory_restart", "200kb"}})).max_memory_restart == 200ull << 10);
  read_fails(app({{"max_memory_restart", "150Q"}}), "max_memory_restart");
  read_fails(app({{"max_memory_restart", -5}}), "max_memory_restart");
  read_fails(app({{"max_memory_restart", 1.5}}), "max_memory_restart");
  read_fails(app({{"max_memory_restart", false}}), "max_memory_restart");
}

TEST_CASE("spec_from_json: stop_exit_codes as one code or a list of 0..255", "[app_spec]") {
  CHECK(read_ok(app({{"stop_exit_codes", 0}})).stop_exit_codes == std::vector<int>{0});
  CHECK(read_ok(app({{"stop_exit_codes", {0, 3}}})).stop_exit_codes == std::vector<int>{0, 3});
  CHECK(read_ok(app({{"stopExitCodes", {255}}})).stop_exit_codes == std::vector<int>{255});
  read_fails(app({{"stop_exit_codes", "0"}}), "stop_exit_codes");
  read_fails(app({{"stop_exit_codes", {0, "1"}}}), "stop_exit_codes");
  read_fails(app({{"stop_exit_codes", {256}}}), "stop_exit_codes");
  read_fails(app({{"stop_exit_codes", -1}}), "stop_exit_codes");
}

TEST_CASE("spec_from_json: stop_exit_codes beyond int are rejected", "[app_spec]") {
  CHECK_FALSE(spec_from_json(app({{"stop_exit_codes", {4294967297LL}}})).ok());
  CHECK_FALSE(spec_from_json(app({{"stop_exit_codes", 4294967296LL}})).ok());
}

TEST_CASE("spec_from_json: kill_signal must name a signal", "[app_spec]") {
  CHECK(read_ok(app({{"kill_signal", "SIGTERM"}})).kill_signal == "SIGTERM");
  CHECK(read_ok(app({{"killSignal", "SIGUSR2"}})).kill_signal == "SIGUSR2");
  CHECK(read_ok(app({{"kill_signal", "TERM"}})).kill_signal == "TERM");
  CHECK(read_ok(app({{"kill_signal", "15"}})).kill_signal == "15");
  read_fails(app({{"kill_signal", "SIGFOO"}}), "kill_signal");
  read_fails(app({{"kill_signal", ""}}), "kill_signal");
  read_fails(app({{"kill_signal", "0"}}), "kill_signal");
  read_fails(app({{"kill_signal", 15}}), "kill_signal");
}

TEST_CASE("spec_from_json: log and pid files with their aliases", "[app_spec]") {
  AppSpec s = read_ok(app({{"out_file", "/l/o"}, {"error_file", "/l/e"}, {"pid_file", "/p/x"}}));
  CHECK(s.out_file == "/l/o");
  CHECK(s.error_file == "/l/e");
  CHECK(s.pid_file == "/p/x");
  AppSpec a = read_ok(app({{"output", "/o1"}, {"error", "/e1"}, {"pid", "/p1"}}));
  CHECK(a.out_file == "/o1");
  CHECK(a.error_file == "/e1");
  CHECK(a.pid_file == "/p1");
  AppSpec c = read_ok(app({{"outFile", "/o2"}, {"errorFile", "/e2"}, {"pidFile", "/p2"}}));
  CHECK(c.out_file == "/o2");
  CHECK(c.error_file == "/e2");
  CHECK(c.pid_file == "/p2");
  CHECK(read_ok(app({{"err_file", "/e3"}})).error_file == "/e3");
  read_fails(app({{"out_file", 1}}), "out_file");
  read_fails(app({{"error", false}}), "error_file");
  read_fails(app({{"pidFile", json::array()}}), "pid_file");
}

TEST_CASE("spec_from_json: unknown keys are ignored", "[app_spec]") {
  AppSpec s = read_ok(app({{"watch", true}, {"no_such_option", {1, 2}}}));
  CHECK(s.name == "api");
}

TEST_CASE("spec_from_json: the first error is reported", "[app_spec]") {
  auto r = spec_from_json(app({{"instances", "many"}, {"kill_timeout", "x"}}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("instances"));
}

TEST_CASE("to_json -> spec_from_json round trip", "[app_spec]") {
  AppSpec s;
  s.name = "worker";
  s.script = "/srv/worker.py";
  s.args = {"--queue", "jobs high", ""};
  s.interpreter = "python3";
  s.interpreter_args = {"-u"};
  s.cwd = "/srv";
  s.namespace_ = "batch";
  s.instances = 3;
  s.env = {{"A", "1"}, {"B", "x y"}};
  s.autorestart = false;
  s.max_restarts = 5;
  s.min_uptime_ms = 2500;
  s.restart_delay_ms = 100;
  s.exp_backoff_restart_delay_ms = 50;
  s.exp_backoff_max_ms = 4000;
  s.stop_exit_codes = {0, 2};
  s.kill_timeout_ms = 8000;
  s.kill_signal = "SIGTERM";
  s.max_memory_restart = 200ull << 20;
  s.out_file = "/l/out";
  s.error_file = "/l/err";
  s.pid_file = "/p/w.pid";

  SECTION("in memory and through text") {
    json j = to_json(s);
    CHECK(j.at("name") == "worker");
    CHECK(j.at("min_uptime") == 2500);
    CHECK(j.at("namespace") == "batch");
    for (const json& wire : {j, json::parse(j.dump())}) {
      AppSpec back = read_ok(wire);
      CHECK(back.name == s.name);
      CHECK(back.script == s.script);
      CHECK(back.args == s.args);
      CHECK(back.interpreter == s.interpreter);
      CHECK(back.interpreter_args == s.interpreter_args);
      CHECK(back.cwd == s.cwd);
      CHECK(back.namespace_ == s.namespace_);
      CHECK(back.instances == s.instances);
      CHECK(back.env == s.env);
      CHECK(back.autorestart == s.autorestart);
      CHECK(back.max_restarts == s.max_restarts);
      CHECK(back.min_uptime_ms == s.min_uptime_ms);
      CHECK(back.restart_delay_ms == s.restart_delay_ms);
      CHECK(back.exp_backoff_restart_delay_ms == s.exp_backoff_restart_delay_ms);
      CHECK(back.exp_backoff_max_ms == s.exp_backoff_max_ms);
      CHECK(back.stop_exit_codes == s.stop_exit_codes);
      CHECK(back.kill_timeout_ms == s.kill_timeout_ms);
      CHECK(back.kill_signal == s.kill_signal);
      CHECK(back.max_memory_restart == s.max_memory_restart);
      CHECK(back.out_file == s.out_file);
      CHECK(back.error_file == s.error_file);
      CHECK(back.pid_file == s.pid_file);
    }
  }

  SECTION("an empty interpreter goes out as none and comes back empty") {
    s.interpreter.clear();
    json j = to_json(s);
    CHECK(j.at("interpreter") == "none");
    CHECK(read_ok(j).interpreter.empty());
  }
}

TEST_CASE("spec_from_json: rotation options are unset unless given, and to_json leaves them out", "[app_spec]") {
  AppSpec s = read_ok(app());
  CHECK_FALSE(s.log_max_size.has_value());
  CHECK_FALSE(s.log_retain.has_value());
  CHECK_FALSE(s.log_compress.has_value());
  CHECK_FALSE(s.log_rotate_interval.has_value());
  const json j = to_json(s);
  for (const char* key : {"log_max_size", "log_retain", "log_compress", "log_rotate_interval"}) {
    INFO(key);
    CHECK_FALSE(j.contains(key));
  }
}

TEST_CASE("spec_from_json: rotation options, set (zero and false too) and round-tripped", "[app_spec]") {
  AppSpec s = read_ok(app({{"log_max_size", "10M"}, {"log_retain", "5"}, {"log_compress", true},
                           {"log_rotate_interval", "0 0 * * *"}}));
  CHECK(s.log_max_size == std::uint64_t{10} << 20);
  CHECK(s.log_retain == 5);
  CHECK(s.log_compress == true);
  CHECK(s.log_rotate_interval == "0 0 * * *");
  // camelCase aliases and numbers.
  AppSpec camel = read_ok(app({{"logMaxSize", 4096}, {"logRetain", 0}, {"logCompress", false},
                               {"logRotateInterval", "@hourly"}}));
  CHECK(camel.log_max_size == 4096u);
  CHECK(camel.log_retain == 0);
  CHECK(camel.log_compress == false);
  CHECK(camel.log_rotate_interval == "@hourly");
  // An explicit 0, false or "" overrides the daemon's default: it is kept, not dropped.
  AppSpec off = read_ok(app({{"log_max_size", 0}, {"log_retain", 0}, {"log_compress", "false"}, {"log_rotate_interval", 0}}));
  CHECK(off.log_max_size == 0u);
  CHECK(off.log_retain == 0);
  CHECK(off.log_compress == false);
  CHECK(off.log_rotate_interval == "");
  CHECK(read_ok(app({{"log_rotate_interval", ""}})).log_rotate_interval == "");
  CHECK(read_ok(app({{"log_rotate_interval", "0"}})).log_rotate_interval == "");
  for (const AppSpec& spec : {s, camel, off}) {
    const json j = to_json(spec);
    for (const json& wire : {j, json::parse(j.dump())}) {
      AppSpec back = read_ok(wire);
      CHECK(back.log_max_size == spec.log_max_size);
      CHECK(back.log_retain == spec.log_retain);
      CHECK(back.log_compress == spec.log_compress);
      CHECK(back.log_rotate_interval == spec.log_rotate_interval);
    }
  }
}

TEST_CASE("spec_from_json: log_rotate_interval is a cron expression", "[app_spec]") {
  for (const json& bad : {json("1h"), json("every day"), json("61 * * * *"), json(3600000), json(true), json::array()}) {
    INFO(bad.dump());
    read_fails(app({{"log_rotate_interval", bad}}), "log_rotate_interval");
  }
  auto r = spec_from_json(app({{"log_rotate_interval", "0 25 * * *"}}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::StartsWith("option 'log_rotate_interval': "));
  // Set directly, validate catches it too.
  AppSpec s = read_ok(app());
  s.log_rotate_interval = "not cron";
  CHECK_FALSE(validate(s).ok());
  s.log_rotate_interval = "*/5 * * * *";
  CHECK(validate(s).ok());
}

TEST_CASE("spec_from_json: log_date_format is compiled, time and log_type are read", "[app_spec]") {
  AppSpec s = read_ok(app({{"log_date_format", "YYYY-MM-DD HH:mm:ss Z"}, {"time", true}, {"log_type", "json"}}));
  CHECK(s.log_date_format == "YYYY-MM-DD HH:mm:ss Z");
  CHECK(s.time);
  CHECK(s.log_type == "json");
  CHECK(read_ok(app({{"logDateFormat", "[at] HH:mm"}})).log_date_format == "[at] HH:mm");
  CHECK(read_ok(app({{"log_type", "raw"}})).log_type == "raw");
  auto r = spec_from_json(app({{"log_date_format", "YYYY [at HH:mm"}}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::StartsWith("option 'log_date_format': "));
  CHECK_THAT(r.error(), Catch::Matchers::Contains("unterminated '['"));
  read_fails(app({{"log_type", "xml"}}), "log_type");
  read_fails(app({{"log_date_format", 12}}), "log_date_format");
  // They work now: nothing about logs is reported as unsupported.
  AppSpec all = read_ok(app({{"log_date_format", "HH:mm"}, {"time", true}, {"log_type", "json"}, {"log_file", "/l/all.log"},
                             {"log_max_size", "1M"}, {"log_retain", 3}, {"log_compress", true},
                             {"log_rotate_interval", "@daily"}}));
  CHECK(unsupported_options(all).empty());
}

TEST_CASE("split_shell_words: whitespace separates, runs of it collapse", "[app_spec]") {
  auto r = split_shell_words("  --port   80\t-v\n x ");
  REQUIRE(r.ok());
  CHECK(*r == Words{"--port", "80", "-v", "x"});
  auto empty = split_shell_words("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto blank = split_shell_words(" \t ");
  REQUIRE(blank.ok());
  CHECK(blank->empty());
}

TEST_CASE("split_shell_words: quotes group and can be empty or adjacent", "[app_spec]") {
  auto r = split_shell_words(R"(--msg 'hi there' "a b" '' "" x'y z'w)");
  REQUIRE(r.ok());
  CHECK(*r == Words{"--msg", "hi there", "a b", "", "", "xy zw"});
}

TEST_CASE("split_shell_words: backslash escapes", "[app_spec]") {
  auto r = split_shell_words(R"(a\ b c\'d \"e)");
  REQUIRE(r.ok());
  CHECK(*r == Words{"a b", "c'd", "\"e"});
  // In double quotes only \" and \\ are escapes; in single quotes nothing is.
  auto dq = split_shell_words(R"("say \"hi\" \\ \n")");
  REQUIRE(dq.ok());
  CHECK(*dq == Words{R"(say "hi" \ \n)"});
  auto sq = split_shell_words(R"('a\b' 'it'\''s')");
  REQUIRE(sq.ok());
  CHECK(*sq == Words{R"(a\b)", "it's"});
  // Quotes of the other kind are plain characters inside quotes.
  auto mixed = split_shell_words(R"("it's" 'say "x"')");
  REQUIRE(mixed.ok());
  CHECK(*mixed == Words{"it's", R"(say "x")"});
}

TEST_CASE("split_shell_words: an unterminated quote is an error", "[app_spec]") {
  for (const char* bad : {"'abc", "\"abc", "a 'b c", "\"a\\\"", "'"}) {
    INFO(bad);
    auto r = split_shell_words(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Matchers::Contains("unterminated"));
  }
}

TEST_CASE("signal_from_name: SIG names, short names, numbers", "[app_spec]") {
  CHECK(signal_from_name("SIGINT") == SIGINT);
  CHECK(signal_from_name("INT") == SIGINT);
  CHECK(signal_from_name("2") == 2);
  CHECK(signal_from_name("sigterm") == SIGTERM);
  CHECK(signal_from_name("term") == SIGTERM);
  CHECK(signal_from_name("SIGKILL") == SIGKILL);
  CHECK(signal_from_name("SIGUSR1") == SIGUSR1);
  CHECK(signal_from_name("SIGUSR2") == SIGUSR2);
  CHECK(signal_from_name("HUP") == SIGHUP);
  CHECK(signal_from_name("15") == 15);
  CHECK(signal_from_name("64") == 64);
}

TEST_CASE("signal_from_name: unknown names are 0", "[app_spec]") {
  for (const char* bad : {"", "SIG", "SIGFOO", "FOO", "0", "65", "-2", "2x", " SIGINT", "SIGINT "}) {
    INFO("'" << bad << "'");
    CHECK(signal_from_name(bad) == 0);
  }
}

TEST_CASE("signal_name: names for known signals, SIG<n> otherwise", "[app_spec]") {
  CHECK(signal_name(SIGINT) == "SIGINT");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGKILL) == "SIGKILL");
  CHECK(signal_name(SIGSEGV) == "SIGSEGV");
  CHECK(signal_name(40) == "SIG40");
  CHECK(signal_name(0) == "SIG0");
  // Every name maps back to its number.
  for (int n = 1; n < 32; ++n) {
    std::string name = signal_name(n);
    if (name != "SIG" + std::to_string(n)) {
      INFO(name);
      CHECK(signal_from_name(name) == n);
    }
  }
}

TEST_CASE("command_name: the command as written, paths cut to their last part", "[app_spec][regression]") {
  // Two commands of one program are two apps, as under PM2.
  CHECK(command_name("npm run start") == "npm run start");
  CHECK(command_name("npm start") == "npm start");
  CHECK(command_name("  node   dist/main.js --port 80 ") == "node main.js --port 80");
  CHECK(command_name("/usr/bin/python3 -m http.server") == "python3 -m http.server");
  CHECK(command_name("./bin/server /srv/data/") == "server data");
  CHECK(command_name("a\nb") == "a b");
  CHECK(command_name(" ") == "app");
}

TEST_CASE("default_name: basename without the extension", "[app_spec]") {
  CHECK(default_name("/srv/api/server.js") == "server");
  CHECK(default_name("app.py") == "app");
  CHECK(default_name("/usr/bin/redis-server") == "redis-server");
  CHECK(default_name("/a.b/run") == "run");
  CHECK(default_name("/x/archive.tar.gz") == "archive.tar");
  CHECK(default_name("/x/.hidden") == ".hidden");
  CHECK(default_name("/x/") == "app");
  CHECK(default_name("") == "app");
}

TEST_CASE("durations above 2^31-1 ms are refused, never wrapped", "[app_spec]") {
  const char* durations[] = {"min_uptime", "restart_delay", "exp_backoff_restart_delay", "exp_backoff_restart_delay_max",
                             "kill_timeout", "listen_timeout", "watch_delay"};
  for (const char* option : durations) {
    INFO(option);
    // The largest accepted value, as a number and as text.
    read_ok(app({{option, 2147483647}}));
    read_ok(app({{option, "2147483647ms"}}));
    read_ok(app({{option, "596h"}}));
    for (const json& bad : {json(std::numeric_limits<std::uint64_t>::max()), json(2147483648u),
                            json(10000000000000LL), json(1e300), json(2147483648.0), json("10000000000000"),
                            json("25d"), json("597h"), json("18446744073709551615")}) {
      INFO(bad.dump());
      read_fails(app({{option, bad}}), option);
    }
  }
  auto r = spec_from_json(app({{"kill_timeout", std::numeric_limits<std::uint64_t>::max()}}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("at most 2147483647 ms"));
  // Each field keeps what it was given.
  AppSpec s = read_ok(app({{"kill_timeout", 2147483647}, {"restart_delay", "596h"}, {"min_uptime", 2147483647.0}}));
  CHECK(s.kill_timeout_ms == 2147483647);
  CHECK(s.restart_delay_ms == 596ull * 3'600'000);
  CHECK(s.min_uptime_ms == 2147483647);
}

TEST_CASE("sizes above 1 PiB are refused, never wrapped", "[app_spec]") {
  for (const char* option : {"max_memory_restart", "log_max_size"}) {
    INFO(option);
    read_ok(app({{option, std::uint64_t{1} << 50}}));
    read_ok(app({{option, "1048576G"}}));
    for (const json& bad : {json(std::numeric_limits<std::uint64_t>::max()), json((std::uint64_t{1} << 50) + 1),
                            json("1048577G"), json("18446744073709551615"), json(-1), json(1.5e9)}) {
      INFO(bad.dump());
      read_fails(app({{option, bad}}), option);
    }
  }
}

TEST_CASE("counts are bounded", "[app_spec]") {
  read_fails(app({{"max_restarts", 2147483648LL}}), "max_restarts");
  read_fails(app({{"max_restarts", "99999999999999999999"}}), "max_restarts");
  read_fails(app({{"max_restarts", 1e30}}), "max_restarts");
  read_fails(app({{"log_retain", 4294967296LL}}), "log_retain");
  read_fails(app({{"instances", 4097}}), "instances");
  read_fails(app({{"instances", "-99999999999999999999"}}), "instances");
  read_fails(app({{"port", 65536}}), "port");
  read_fails(app({{"stop_exit_codes", json::array({256})}}), "stop_exit_codes");
  CHECK(read_ok(app({{"max_restarts", 2147483647}})).max_restarts == 2147483647);
}

TEST_CASE("increment_var's base must be a small integer", "[app_spec]") {
  CHECK(read_ok(app({{"increment_var", "PORT"}, {"env", {{"PORT", "3000"}}}})).increment_var == "PORT");
  CHECK(read_ok(app({{"increment_var", "PORT"}})).increment_var == "PORT");  // base 0
  for (const char* base : {"9223372036854775807", "99999999999999999999", "2147483647", "-1", "abc", "", "12x"}) {
    INFO(base);
    read_fails(app({{"increment_var", "PORT"}, {"env", {{"PORT", base}}}}), "increment_var");
  }
  read_fails(app({{"increment_var", "A=B"}}), "increment_var");
}

TEST_CASE("env names with '=', empty or with NUL are refused", "[app_spec]") {
  for (const json& env : {json{{"A=B", "x"}}, json{{"", "x"}}, json{{std::string("A\0B", 3), "x"}},
                          json{{"A", std::string("x\0y", 3)}}, json{{"=", ""}}}) {
    INFO(env.dump());
    read_fails(app({{"env", env}}), "option 'env'");
  }
  auto r = spec_from_json(app({{"env", {{"A=B", "x"}}}}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::Contains("'A=B' contains '='"));
  CHECK(validate_env({{"PATH", "/bin"}, {"EMPTY", ""}, {"A_B", "x=y"}}).ok());
  read_fails(app({{"instance_var", std::string("A\0B", 3)}}), "instance_var");
}

TEST_CASE("an app without a name is told the name is required", "[app_spec]") {
  auto r = spec_from_json(json{{"script", "/bin/sh"}});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Matchers::StartsWith("option 'name': required"));
  SpecError err;
  CHECK_FALSE(spec_from_json(json{{"script", "/bin/sh"}, {"name", nullptr}}, err).ok());
  CHECK(err.option == "name");
  // An empty name is still "must not be empty"; no script at all names the script.
  read_fails(app({{"name", ""}}), "must not be empty");
  read_fails(json::object(), "option 'script': required");
}

}  // namespace
}  // namespace pmx::config

TEST_CASE("an env value that is an object with bytes that are not UTF-8 becomes JSON text, no throw",
          "[app_spec]") {
  // Found by the ecosystem fuzzer: dump() of such an object threw out of the loader.
  nlohmann::json j{{"name", "api"}, {"script", "/bin/true"}, {"env", {{"nested", {{"A", "\xb0"}}}}}};
  pmx::config::SpecError error;
  auto spec = pmx::config::spec_from_json(j, error);
  REQUIRE(spec);
  REQUIRE(spec->env.count("nested") == 1);
  CHECK(spec->env.at("nested").rfind("{\"A\":", 0) == 0);
}
