// Tests of config/ecosystem.hpp: formats, positions in messages, unknown keys, --env, --only,
// relative paths, all-or-nothing.
#include "config/ecosystem.hpp"

#include <catch2/catch.hpp>

#include <string>

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
  CHECK_FALSE(format_of("server.py").has_value());
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
  auto prod = yaml(text, LoadOptions{"production", {}});
  REQUIRE(prod.ok());
  CHECK(prod->apps[0].env.at("A") == "base");
  CHECK(prod->apps[0].env.at("B") == "prod");
  CHECK(prod->apps[0].name == "a-production");
}

TEST_CASE("ecosystem: --only keeps the named apps, and names must exist", "[ecosystem]") {
  const std::string text = "apps:\n  - {name: a, script: sh}\n  - {name: b, script: sh}\n  - {name: c, script: sh}\n";
  auto r = yaml(text, LoadOptions{"", {"a", "c"}});
  REQUIRE(r.ok());
  REQUIRE(r->apps.size() == 2);
  CHECK(r->apps[0].name == "a");
  CHECK(r->apps[1].name == "c");
  CHECK_FALSE(yaml(text, LoadOptions{"", {"zz"}}).ok());
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

TEST_CASE("ecosystem: options of later work are stored and reported as unsupported", "[ecosystem]") {
  auto r = yaml("apps:\n  - name: a\n    script: sh\n    watch: true\n    cron_restart: '0 3 * * *'\n"
                "    exec_mode: cluster\n");
  REQUIRE(r.ok());
  const AppSpec& a = r->apps[0];
  CHECK(a.watch);
  CHECK(a.cron_restart == "0 3 * * *");
  CHECK(a.exec_mode == "cluster");
  auto unsupported = unsupported_options(a);
  CHECK(unsupported.size() == 3);
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
