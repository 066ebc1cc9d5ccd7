// Tests of config/ecosystem.hpp: formats, positions in messages, unknown keys, --env, --only,
// relative paths, all-or-nothing.
#include "config/ecosystem.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace pmx::config {
namespace {

using Catch::Matchers::Contains;

// /bin/sh exists everywhere: scripts point at it so that they resolve.
Result<Ecosystem> yaml(const std::string& text, LoadOptions o = {}) {
  return parse_ecosystem(text, Format::Yaml, "eco.yaml", "/bin", o);
}
Result<Ecosystem> json_text(const std::string& text, LoadOptions o = {}) {
  return parse_ecosystem(text, Format::Json, "eco.json", "/bin", o);
}

TEST_CASE("ecosystem: format_of by file name", "[ecosystem]") {
  CHECK(format_of("a/eco.yaml") == Format::Yaml);
  CHECK(format_of("eco.yml") == Format::Yaml);
  CHECK(format_of("eco.json") == Format::Json);
  CHECK(format_of("ecosystem.config.js") == Format::JavaScript);
  CHECK(format_of("ecosystem.config.cjs") == Format::JavaScript);
  CHECK(format_of("pm2.config.mjs") == Format::JavaScript);
  CHECK_FALSE(format_of("server.py").has_value());
  // A script is not an ecosystem file: its code must not run in the CLI.
  CHECK_FALSE(format_of("app.js").has_value());
  CHECK_FALSE(format_of("server.cjs").has_value());
  CHECK_FALSE(format_of("bin/main.mjs").has_value());
  CHECK_FALSE(format_of("config.js").has_value());
}

TEST_CASE("ecosystem: a YAML file with apps, typed scalars and defaults", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    instances: 2\n    autorestart: false\n"
                "    max_memory_restart: 150M\n    kill_timeout: 5s\n    args: -c 'sleep 1'\n"
                "  - script: ./sh\n    env:\n      PORT: 3000\n      QUOTED: \"007\"\n");
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  REQUIRE(r->apps.size() == 2);
  const AppSpec& a = r->apps[0];
  CHECK(a.name == "a");
  CHECK(a.script == "/bin/sh");
  CHECK(a.instances == 2);
  CHECK_FALSE(a.autorestart);
  CHECK(a.max_memory_restart == 150ull * 1024 * 1024);
  CHECK(a.kill_timeout_ms == 5000);
  CHECK(a.args == std::vector<std::string>{"-c", "sleep 1"});
  CHECK(a.cwd == "/bin");
  const AppSpec& b = r->apps[1];
  CHECK(b.name == "sh");  // default name: the script's name
  CHECK(b.env.at("PORT") == "3000");
  CHECK(b.env.at("QUOTED") == "007");  // quoted stays text
}

TEST_CASE("ecosystem: a bare list and a JSON file are accepted", "[ecosystem]") {
  auto r = yaml("- name: a\n  script: sh\n");
  REQUIRE(r.ok());
  CHECK(r->apps.size() == 1);
  auto j = json_text("{\"apps\": [{\"name\": \"a\", \"script\": \"sh\", \"maxRestarts\": 3}]}");
  REQUIRE(j.ok());
  CHECK(j->apps[0].max_restarts == 3);
}

TEST_CASE("ecosystem: a wrong value names file:line:col, the app and the option", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    instances: many\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("eco.yaml:4:5:"));
  CHECK_THAT(r.error(), Contains("app 'a'"));
  CHECK_THAT(r.error(), Contains("instances"));

  auto j = json_text("{\"apps\": [\n  {\"name\": \"a\",\n   \"script\": \"sh\",\n   \"max_memory_restart\": \"1Q\"}]}");
  REQUIRE_FALSE(j.ok());
  CHECK_THAT(j.error(), Contains("eco.json:4:"));
  CHECK_THAT(j.error(), Contains("max_memory_restart"));
}

TEST_CASE("ecosystem: a bad limit names file:line, the app and the option", "[ecosystem]") {
  auto quota = yaml("apps:\n  - name: a\n    script: sh\n    cpu_quota: 0.5\n");
  REQUIRE_FALSE(quota.ok());
  CHECK_THAT(quota.error(), Contains("eco.yaml:4:5:"));
  CHECK_THAT(quota.error(), Contains("cpu_quota"));
  CHECK_THAT(quota.error(), Contains("100% = one CPU"));
  auto memory = yaml("apps:\n  - name: a\n    script: sh\n    memory_max: 512Q\n");
  REQUIRE_FALSE(memory.ok());
  CHECK_THAT(memory.error(), Contains("eco.yaml:4:5:"));
  CHECK_THAT(memory.error(), Contains("memory_max"));
  auto tasks = json_text("{\"apps\": [\n  {\"name\": \"a\",\n   \"script\": \"sh\",\n   \"tasks_max\": -1}]}");
  REQUIRE_FALSE(tasks.ok());
  CHECK_THAT(tasks.error(), Contains("eco.json:4:"));
  CHECK_THAT(tasks.error(), Contains("tasks_max"));
}

TEST_CASE("ecosystem: syntax errors carry the parser's line", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n   script: [\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("eco.yaml:"));
  auto j = json_text("{\"apps\": [\n{\"name\": \"a\",,}]}");
  REQUIRE_FALSE(j.ok());
  CHECK_THAT(j.error(), Contains("eco.json:2:"));
}

TEST_CASE("ecosystem: a number too large for JSON is an error, not an exception", "[ecosystem]") {
  // Found by the fuzzer: nlohmann throws out_of_range, not parse_error, for this.
  auto j = json_text("{\"apps\": 22222222222222222222e22222222222222222222}");
  REQUIRE_FALSE(j.ok());
  CHECK_THAT(j.error(), Contains("number overflow"));
}

TEST_CASE("ecosystem: every error of the file is reported and nothing is kept", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    kill_timeout: -5\n"
                "  - name: b\n    script: ./does-not-exist\n  - name: c\n    script: sh\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("kill_timeout"));
  CHECK_THAT(r.error(), Contains("does-not-exist"));
  CHECK_THAT(r.error(), Contains("eco.yaml:6:5:"));
}

TEST_CASE("ecosystem: duplicate names are an error at the second", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n  - name: a\n    script: sh\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("duplicate app name 'a'"));
  CHECK_THAT(r.error(), Contains("eco.yaml:4:"));
}

TEST_CASE("ecosystem: unknown keys warn with a suggestion, the rest goes on", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    max_restart: 3\n    colour: blue\n");
  REQUIRE(r.ok());
  REQUIRE(r->warnings.size() == 2);
  CHECK_THAT(r->warnings[0], Contains("eco.yaml:4:5:"));
  CHECK_THAT(r->warnings[0], Contains("did you mean 'max_restarts'"));
  CHECK_THAT(r->warnings[1], Contains("colour"));
  CHECK(suggest_option("kill_timout") == "kill_timeout");
  CHECK(suggest_option("zzzzzzzz").empty());
}

TEST_CASE("ecosystem: --env merges env_<name> over env, append_env_to_name", "[ecosystem]") {
  const std::string text =
      "apps:\n  - name: a\n    script: sh\n    append_env_to_name: true\n"
      "    env: {A: base, B: base}\n    env_production: {B: prod}\n";
  auto plain = yaml(text);
  REQUIRE(plain.ok());
  CHECK(plain->apps[0].env.at("B") == "base");
  CHECK(plain->apps[0].name == "a");
  auto prod = yaml(text, LoadOptions{"production", {}, ""});
  REQUIRE(prod.ok());
  CHECK(prod->apps[0].env.at("A") == "base");
  CHECK(prod->apps[0].env.at("B") == "prod");
  CHECK(prod->apps[0].name == "a-production");
}

TEST_CASE("ecosystem: --only keeps the named apps, and names must exist", "[ecosystem]") {
  const std::string text = "apps:\n  - {name: a, script: sh}\n  - {name: b, script: sh}\n  - {name: c, script: sh}\n";
  auto r = yaml(text, LoadOptions{"", {"a", "c"}, ""});
  REQUIRE(r.ok());
  REQUIRE(r->apps.size() == 2);
  CHECK(r->apps[0].name == "a");
  CHECK(r->apps[1].name == "c");
  CHECK_FALSE(yaml(text, LoadOptions{"", {"zz"}, ""}).ok());
}

TEST_CASE("ecosystem: relative cwd, script and log paths resolve against the file", "[ecosystem]") {
  auto r = parse_ecosystem("apps:\n  - name: a\n    cwd: bin\n    script: sh\n    out_file: logs/a.log\n",
                           Format::Yaml, "eco.yaml", "/usr", {});
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  CHECK(r->apps[0].cwd == "/usr/bin");
  CHECK(r->apps[0].script == "/usr/bin/sh");
  CHECK(r->apps[0].out_file == "/usr/bin/logs/a.log");
}

TEST_CASE("ecosystem: a command string as script runs as the CLI runs one, as PM2 takes it",
          "[ecosystem][regression]") {
  auto r = yaml("apps:\n"
                "  - script: sh -c 'exec sleep 1'\n"          // program and words: no shell
                "    args: [extra]\n"
                "  - name: piped\n"
                "    script: 'sh -c date | cat'\n"             // a pipe: /bin/sh -c the text
                "  - name: relative\n"
                "    cwd: /usr/bin\n"
                "    script: ./env FOO=1 true\n");              // relative to cwd
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  REQUIRE(r->apps.size() == 3);
  CHECK(r->apps[0].name == "sh -c 'exec sleep 1'");  // the command, as PM2 names it
  CHECK(r->apps[0].script == "/bin/sh");
  CHECK(r->apps[0].args == std::vector<std::string>{"-c", "exec sleep 1", "extra"});
  CHECK(r->apps[1].script == "/bin/sh");
  CHECK(r->apps[1].args == std::vector<std::string>{"-c", "sh -c date | cat"});
  CHECK(r->apps[2].script == "/usr/bin/env");
  CHECK(r->apps[2].args == std::vector<std::string>{"FOO=1", "true"});
  // A command whose program is nowhere names what it looked for, at its line.
  auto missing = yaml("apps:\n  - name: a\n    script: no-such-program-x run start\n");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Contains("eco.yaml:3") && Contains("no such file or program: no-such-program-x run start"));
}

TEST_CASE("ecosystem: options of later work are stored and reported as unsupported", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    watch: true\n    cron_restart: '0 3 * * *'\n"
                "    exec_mode: cluster\n");
  REQUIRE(r.ok());
  const AppSpec& a = r->apps[0];
  CHECK(a.watch);
  CHECK(a.cron_restart == "0 3 * * *");
  CHECK(a.exec_mode == "cluster");
  auto unsupported = unsupported_options(a);
  CHECK(unsupported.size() == 1);  // cron_restart and watch work now
  CHECK_FALSE(yaml("apps:\n  - {name: a, script: sh, cron_restart: 'every day'}\n").ok());
}

TEST_CASE("ecosystem: the example written by `pmx ecosystem` parses", "[ecosystem]") {
  // Its scripts do not exist here: the only errors are about them.
  auto r = yaml(example_ecosystem_yaml());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("server.js"));
  CHECK_THAT(r.error(), !Contains("instances"));
}

}  // namespace
}  // namespace pmx::config

namespace pmx::config {
namespace {

/// One option: a good value (as YAML and as JSON text), what it must give, and a bad value.
struct OptionCase {
  const char* option;
  const char* good;  ///< YAML flow value, also valid JSON
  std::function<bool(const AppSpec&)> check;
  const char* bad;   ///< nullptr when every value of the right type is fine
};

const std::vector<OptionCase>& option_cases() {
  static const std::vector<OptionCase> cases = {
      {"name", "\"web\"", [](const AppSpec& s) { return s.name == "web"; }, "\"123\""},
      {"args", "[\"a\", \"b c\"]", [](const AppSpec& s) { return s.args.size() == 2 && s.args[1] == "b c"; }, "{\"x\": 1}"},
      {"interpreter", "\"bash\"", [](const AppSpec& s) { return s.interpreter == "bash"; }, "5"},
      {"interpreter_args", "\"--max-old-space-size=64\"", [](const AppSpec& s) { return s.interpreter_args.size() == 1; }, "{\"x\": 1}"},
      {"cwd", "\"/tmp\"", [](const AppSpec& s) { return s.cwd == "/tmp"; }, "[1]"},
      {"namespace", "\"ops\"", [](const AppSpec& s) { return s.namespace_ == "ops"; }, "\"\""},
      {"instances", "3", [](const AppSpec& s) { return s.instances == 3; }, "\"many\""},
      {"exec_mode", "\"cluster_mode\"", [](const AppSpec& s) { return s.exec_mode == "cluster"; }, "\"swarm\""},
      {"env", "{\"A\": 1}", [](const AppSpec& s) { return s.env.at("A") == "1"; }, "\"A=1\""},
      {"filter_env", "[\"AWS_\"]", [](const AppSpec& s) { return s.filter_env.size() == 1; }, "{\"x\": 1}"},
      {"autorestart", "false", [](const AppSpec& s) { return !s.autorestart; }, "\"maybe\""},
      {"autostart", "false", [](const AppSpec& s) { return !s.autostart; }, "3"},
      {"max_restarts", "4", [](const AppSpec& s) { return s.max_restarts == 4; }, "-1"},
      {"min_uptime", "\"2s\"", [](const AppSpec& s) { return s.min_uptime_ms == 2000; }, "\"2 weeks\""},
      {"restart_delay", "250", [](const AppSpec& s) { return s.restart_delay_ms == 250; }, "-250"},
      {"exp_backoff_restart_delay", "100", [](const AppSpec& s) { return s.exp_backoff_restart_delay_ms == 100; }, "\"x\""},
      {"exp_backoff_restart_delay_max", "\"1m\"", [](const AppSpec& s) { return s.exp_backoff_max_ms == 60000; }, "true"},
      {"stop_exit_codes", "[0, 3]", [](const AppSpec& s) { return s.stop_exit_codes.size() == 2; }, "[300]"},
      {"kill_timeout", "\"5s\"", [](const AppSpec& s) { return s.kill_timeout_ms == 5000; }, "-5"},
      {"kill_signal", "\"SIGTERM\"", [](const AppSpec& s) { return s.kill_signal == "SIGTERM"; }, "\"SIGNOPE\""},
      {"listen_timeout", "8000", [](const AppSpec& s) { return s.listen_timeout_ms == 8000; }, "\"soon\""},
      {"wait_ready", "true", [](const AppSpec& s) { return s.wait_ready; }, "2"},
      {"shutdown_with_message", "true", [](const AppSpec& s) { return s.shutdown_with_message; }, "\"no\""},
      {"max_memory_restart", "\"150M\"", [](const AppSpec& s) { return s.max_memory_restart == 150ull << 20; }, "\"1Q\""},
      {"cpu_quota", "\"50%\"", [](const AppSpec& s) { return s.cpu_quota == 50; }, "0.5"},
      {"cpu_quota", "\"150%\"", [](const AppSpec& s) { return s.cpu_quota == 150; }, "\"50\""},
      {"memory_max", "\"512M\"", [](const AppSpec& s) { return s.memory_max == 512ull << 20; }, "\"lots\""},
      {"memory_max", "\"1G\"", [](const AppSpec& s) { return s.memory_max == 1ull << 30; }, "-1"},
      {"tasks_max", "64", [](const AppSpec& s) { return s.tasks_max == 64; }, "-3"},
      {"tasks_max", "\"64\"", [](const AppSpec& s) { return s.tasks_max == 64; }, "\"many\""},
      {"cron_restart", "\"0 3 * * *\"", [](const AppSpec& s) { return s.cron_restart == "0 3 * * *"; }, "\"at noon\""},
      {"watch", "[\"src\"]", [](const AppSpec& s) { return s.watch && s.watch_paths.size() == 1; }, "{\"x\": 1}"},
      {"ignore_watch", "[\"node_modules\"]", [](const AppSpec& s) { return s.ignore_watch.size() == 1; }, "{\"x\": 1}"},
      {"watch_delay", "\"1s\"", [](const AppSpec& s) { return s.watch_delay_ms == 1000; }, "\"later\""},
      {"out_file", "\"/tmp/o.log\"", [](const AppSpec& s) { return s.out_file == "/tmp/o.log"; }, "7"},
      {"error_file", "\"/tmp/e.log\"", [](const AppSpec& s) { return s.error_file == "/tmp/e.log"; }, "7"},
      {"log_file", "true", [](const AppSpec& s) { return s.log_file == "true"; }, "7"},
      {"pid_file", "\"/tmp/a.pid\"", [](const AppSpec& s) { return s.pid_file == "/tmp/a.pid"; }, "[]"},
      {"merge_logs", "true", [](const AppSpec& s) { return s.merge_logs; }, "\"sometimes\""},
      {"log_date_format", "\"YYYY-MM-DD\"", [](const AppSpec& s) { return s.log_date_format == "YYYY-MM-DD"; }, "\"[at HH\""},
      {"time", "true", [](const AppSpec& s) { return s.time; }, "\"always\""},
      {"log_type", "\"json\"", [](const AppSpec& s) { return s.log_type == "json"; }, "\"xml\""},
      {"disable_logs", "true", [](const AppSpec& s) { return s.disable_logs; }, "\"yes please\""},
      {"port", "8080", [](const AppSpec& s) { return s.port == 8080; }, "70000"},
      {"listen", "[\"127.0.0.1:3000\", \"unix:/run/app.sock\"]", [](const AppSpec& s) { return s.listen.size() == 2; }, "[\"example.com:80\"]"},
      {"reuse_port", "true", [](const AppSpec& s) { return s.reuse_port; }, "\"often\""},
      {"pmx", "false", [](const AppSpec& s) { return !s.pmx; }, "\"off\""},
      {"instance_var", "\"INSTANCE_ID\"", [](const AppSpec& s) { return s.instance_var == "INSTANCE_ID"; }, "\"\""},
      {"increment_var", "\"PORT\"", [](const AppSpec& s) { return s.increment_var == "PORT"; }, "[]"},
      {"uid", "\"www-data\"", [](const AppSpec& s) { return s.uid == "www-data"; }, "[]"},
      {"gid", "33", [](const AppSpec& s) { return s.gid == "33"; }, "-1"},
      {"force", "true", [](const AppSpec& s) { return s.force; }, "\"force\""},
      {"append_env_to_name", "true", [](const AppSpec& s) { return s.append_env_to_name; }, "1"},
      {"log_max_size", "\"10M\"", [](const AppSpec& s) { return s.log_max_size == 10ull << 20; }, "\"big\""},
      {"log_retain", "5", [](const AppSpec& s) { return s.log_retain == 5; }, "-5"},
      {"log_retain", "0", [](const AppSpec& s) { return s.log_retain == 0; }, "\"many\""},
      {"log_compress", "true", [](const AppSpec& s) { return s.log_compress == true; }, "\"gz\""},
      {"log_compress", "false", [](const AppSpec& s) { return s.log_compress == false; }, "1"},
      {"log_rotate_interval", "\"0 0 * * *\"", [](const AppSpec& s) { return s.log_rotate_interval == "0 0 * * *"; }, "\"1h\""},
      {"log_rotate_interval", "\"@daily\"", [](const AppSpec& s) { return s.log_rotate_interval == "@daily"; }, "true"},
      {"log_rotate_interval", "0", [](const AppSpec& s) { return s.log_rotate_interval == ""; }, "[]"},
      {"health_check", R"({"tcp": "127.0.0.1:3000", "retries": 2, "interval": "5s"})",
       [](const AppSpec& s) {
         return s.health_check.kind == HealthCheck::Kind::Tcp && s.health_check.retries == 2 && s.health_check.interval_ms == 5000;
       },
       R"({"tcp": "127.0.0.1:3000", "retries": 0})"},
      {"health_check", R"("http://127.0.0.1:3000/health")",
       [](const AppSpec& s) { return s.health_check.kind == HealthCheck::Kind::Http; }, R"({"http": "https://x/"})"},
      {"depends_on", "\"db\"", [](const AppSpec& s) { return s.depends_on == std::vector<std::string>{"db"}; }, "7"},
      {"depends_on", "[\"db\", \"queue\"]",
       [](const AppSpec& s) { return s.depends_on == std::vector<std::string>{"db", "queue"}; }, "[\"db\", 7]"},
      {"depends_on", "\"db, queue,db\"",
       [](const AppSpec& s) { return s.depends_on == std::vector<std::string>{"db", "queue"}; }, "{\"db\": 1}"},
  };
  return cases;
}

std::string one_app(Format format, const std::string& option, const std::string& value) {
  if (format == Format::Yaml) return "apps:\n  - script: sh\n    " + option + ": " + value + "\n";
  return "{\"apps\": [{\"script\": \"sh\", \"" + option + "\": " + value + "}]}";
}

TEST_CASE("ecosystem: every option, good and bad, in YAML and in JSON", "[ecosystem]") {
  for (Format format : {Format::Yaml, Format::Json}) {
    const char* file = format == Format::Yaml ? "eco.yaml" : "eco.json";
    for (const auto& c : option_cases()) {
      INFO(file << ": " << c.option << ": " << c.good);
      auto good = parse_ecosystem(one_app(format, c.option, c.good), format, file, "/bin", {});
      INFO((good ? "" : good.error()));
      REQUIRE(good.ok());
      CHECK(good->warnings.empty());
      CHECK(c.check(good->apps.at(0)));
      if (!c.bad) continue;
      INFO("bad: " << c.bad);
      auto bad = parse_ecosystem(one_app(format, c.option, c.bad), format, file, "/bin", {});
      REQUIRE_FALSE(bad.ok());
      CHECK_THAT(bad.error(), Contains(c.option));
      CHECK_THAT(bad.error(), Contains(std::string(file) + ":"));
    }
  }
}

TEST_CASE("ecosystem: every option has a test case", "[ecosystem]") {
  std::set<std::string> covered{"script"};
  for (const auto& c : option_cases()) covered.insert(c.option);
  for (const auto& name : option_names()) {
    INFO(name);
    CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("ecosystem: a depends_on cycle is refused, named, at the line of the option that closes it", "[ecosystem]") {
  const std::string text =
      "apps:\n"
      "  - name: web\n"
      "    script: sh\n"
      "    depends_on: api\n"
      "  - name: api\n"
      "    script: sh\n"
      "    depends_on: [db]\n"
      "  - name: db\n"
      "    script: sh\n"
      "    depends_on: api\n";
  auto eco = parse_ecosystem(text, Format::Yaml, "eco.yaml", "/bin", {});
  REQUIRE_FALSE(eco.ok());
  CHECK(eco.error() == "eco.yaml:7:5: app 'api': option 'depends_on' makes a cycle: api -> db -> api");
}

TEST_CASE("ecosystem: --only keeps the apps of the file the kept ones depend on when a start asks for them", "[ecosystem]") {
  const std::string text =
      "apps:\n"
      "  - {name: db, script: sh}\n"
      "  - {name: queue, script: sh, depends_on: db}\n"
      "  - {name: web, script: sh, depends_on: [queue, redis]}\n"
      "  - {name: other, script: sh}\n";
  LoadOptions only{"", {"web"}, ""};
  auto plain = parse_ecosystem(text, Format::Yaml, "eco.yaml", "/bin", only);
  REQUIRE(plain.ok());
  REQUIRE(plain->apps.size() == 1);
  only.only_with_dependencies = true;
  auto starting = parse_ecosystem(text, Format::Yaml, "eco.yaml", "/bin", only);
  REQUIRE(starting.ok());
  std::vector<std::string> names;
  for (const auto& app : starting->apps) names.push_back(app.name);
  CHECK(names == std::vector<std::string>{"db", "queue", "web"});
  // Where each depends_on is, for the CLI's message about a name that is no app.
  CHECK(starting->depends_on_at.at("web") == "eco.yaml:4:29: ");
}

TEST_CASE("deeply nested ecosystem files are refused with their position", "[ecosystem]") {
  // JSON: 100,000 levels inside env.
  const std::string deep_json = R"({"apps":[{"name":"a","script":"sh","env":{"X":)" + std::string(100000, '[') +
                                std::string(100000, ']') + "}}]}";
  auto j = json_text(deep_json);
  REQUIRE_FALSE(j.ok());
  CHECK_THAT(j.error(), Contains("eco.json: nested deeper than 64 levels"));
  // YAML flow style, and block style (each level one more space).
  auto flow = yaml("apps:\n  - name: a\n    script: sh\n    env:\n      X: " + std::string(100000, '[') +
                   std::string(100000, ']') + "\n");
  REQUIRE_FALSE(flow.ok());
  std::string block = "apps:\n  - name: a\n    script: sh\n    env:\n";
  for (int i = 0; i < 100; ++i) block += std::string(6 + static_cast<std::size_t>(i), ' ') + "k:\n";
  auto b = yaml(block);
  REQUIRE_FALSE(b.ok());
  CHECK_THAT(b.error(), Contains("nested deeper than 64 levels"));
  CHECK_THAT(b.error(), Contains("eco.yaml:"));
  // Ten levels inside env are fine (PM2 passes objects to the app as JSON text).
  auto fine = json_text(R"({"apps":[{"name":"a","script":"sh","env":{"X":[[[[[[[[[[1]]]]]]]]]]}}]})");
  INFO((fine ? "" : fine.error()));
  CHECK(fine.ok());
}

TEST_CASE("YAML aliases of aliases do not expand without bound", "[ecosystem]") {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 9; ++k) text += ", " + prev;
    text += "]\n";
  }
  text += "apps:\n  - name: a\n    script: sh\n";
  auto r = yaml(text);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("more than 100000 values"));
}

TEST_CASE("ecosystem: JSON with comments, as PM2 reads it", "[ecosystem]") {
  auto r = json_text("// process.json\n"
                     "{\n"
                     "  /* the API */\n"
                     "  \"apps\": [{\n"
                     "    \"name\": \"api\", // trailing\n"
                     "    \"script\": \"sh\",\n"
                     "    \"env\": {\"URL\": \"http://x/*y*/\", \"Q\": \"a\\\"//b\"}\n"
                     "  }]\n"
                     "}\n");
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  REQUIRE(r->apps.size() == 1);
  CHECK(r->apps[0].name == "api");
  CHECK(r->apps[0].env.at("URL") == "http://x/*y*/");
  CHECK(r->apps[0].env.at("Q") == "a\"//b");
  // Positions are the file's own: the bad option is on line 5 after two comment lines.
  auto bad = json_text("// one\n/* two\n three */\n{\"apps\": [{\"script\": \"sh\",\n \"instances\": \"x\"}]}\n");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Contains("eco.json:5:"));
}

TEST_CASE("ecosystem: a bare app object, and an app without a name, as PM2 takes them",
          "[ecosystem]") {
  auto one = json_text("{\"script\": \"sh\", \"args\": \"-c true\"}");
  INFO((one ? "" : one.error()));
  REQUIRE(one.ok());
  REQUIRE(one->apps.size() == 1);
  CHECK(one->apps[0].name == "sh");
  auto bad = json_text("{\n\"script\": \"sh\",\n\"instances\": \"x\"}");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Contains("eco.json:3:"));
  auto unnamed = yaml("apps:\n  - name: \"\"\n    script: sh\n  - script: sh\n    name: other\n");
  INFO((unnamed ? "" : unnamed.error()));
  REQUIRE(unnamed.ok());
  CHECK(unnamed->apps[0].name == "sh");
  auto scalar = json_text("42");
  REQUIRE_FALSE(scalar.ok());
  CHECK_THAT(scalar.error(), Contains("one app"));
}

TEST_CASE("ecosystem: script serve runs the static server the CLI names, as PM2 runs its own", "[ecosystem]") {
  const std::string text = "apps:\n  - name: site\n    script: serve\n    env: {PM2_SERVE_PORT: 8080}\n";
  auto r = yaml(text, LoadOptions{"", {}, "/bin/true"});
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  CHECK(r->apps[0].script == "/bin/true");
  CHECK(r->apps[0].interpreter.empty());
  // Where no static server is given (the fuzzer, other readers), serve is an ordinary script.
  auto plain = yaml(text);
  REQUIRE_FALSE(plain.ok());
  CHECK_THAT(plain.error(), Contains("no such file"));
  // A static server that cannot be found is named in the error.
  auto missing = yaml(text, LoadOptions{"", {}, "pmx-serve-not-installed"});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Contains("pmx-serve-not-installed, which is not installed"));
}

}  // namespace
}  // namespace pmx::config
