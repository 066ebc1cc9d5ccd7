// Tests of config/deploy_target.hpp: the deploy section of an ecosystem file, as PM2 writes it.
#include "config/deploy_target.hpp"

#include <catch2/catch.hpp>

namespace pmx::config {
namespace {

using Catch::Matchers::Contains;
using nlohmann::json;

json production(json target) { return json{{"deploy", {{"production", std::move(target)}}}}; }

json minimal() {
  return {{"host", "web1"}, {"repo", "git@example.com:a/b.git"}, {"path", "/srv/b"}, {"ref", "origin/main"}};
}

TEST_CASE("deploy_target reads PM2's deploy section: hosts, ssh, hooks, env", "[deploy]") {
  json t = minimal();
  t["user"] = "deploy";
  t["host"] = json::array({"web1", "web2"});
  t["port"] = 2222;  // a number, as PM2's examples write it
  t["key"] = "~/.ssh/id";
  t["ssh_options"] = "StrictHostKeyChecking=no";
  t["forward-agent"] = true;
  t["fetch"] = "fast";
  t["post-deploy"] = "npm ci";
  t["env"] = {{"node_env", "production"}, {"PORT", 3000}};
  auto r = deploy_target(production(t), "production", "eco.js", "/home/me");
  INFO((r ? "" : r.error()));
  REQUIRE(r.ok());
  CHECK(r->hosts == std::vector<std::string>{"web1", "web2"});
  CHECK(r->port == "2222");
  CHECK(r->key == "/home/me/.ssh/id");
  CHECK(r->ssh_options == std::vector<std::string>{"StrictHostKeyChecking=no"});
  CHECK(r->forward_agent);
  CHECK(r->fast_fetch);
  CHECK(r->hooks.at("post-deploy") == "npm ci");
  // PM2 exports env names upper-cased (in the order of the names as written).
  CHECK(r->env_vars == std::vector<std::pair<std::string, std::string>>{{"PORT", "3000"}, {"NODE_ENV", "production"}});
}

TEST_CASE("deploy_target gives a target without post-deploy PM2's default, with pmx's name", "[deploy]") {
  auto r = deploy_target(production(minimal()), "production", "ecosystem.config.js", "/root");
  REQUIRE(r.ok());
  CHECK(r->hooks.at("post-deploy") == "pmx startOrRestart ecosystem.config.js --env production");
  CHECK(deploy_envs(production(minimal())) == std::vector<std::string>{"production"});
}

TEST_CASE("deploy_target names the file, the environment and the option that is wrong", "[deploy]") {
  const auto error_of = [](const json& doc, const std::string& env = "production") {
    auto r = deploy_target(doc, env, "eco.yaml", "/root");
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK_THAT(error_of(json{{"apps", json::array()}}), Contains("eco.yaml: has no deploy section"));
  CHECK_THAT(error_of(production(minimal()), "staging"), Contains("no environment 'staging' (it has: production)"));
  for (const char* required : {"host", "repo", "path", "ref"}) {
    json t = minimal();
    t.erase(required);
    CHECK_THAT(error_of(production(t)), Contains(std::string("eco.yaml: deploy.production: '") + required + "' is required"));
  }
  json t = minimal();
  t["host"] = json::array({"web1", 7});
  CHECK_THAT(error_of(production(t)), Contains("'host': expected a host name or a list"));
  t = minimal();
  t["host"] = "-oProxyCommand=evil";
  CHECK_THAT(error_of(production(t)), Contains("is not a host name"));
  t = minimal();
  t["port"] = "22; rm -rf /";
  CHECK_THAT(error_of(production(t)), Contains("'port': expected a number"));
  t = minimal();
  t["env"] = {{"BAD NAME", "x"}};
  CHECK_THAT(error_of(production(t)), Contains("'BAD NAME' is not a variable name"));
  t = minimal();
  t["post-deploy"] = json::array({"a"});
  CHECK_THAT(error_of(production(t)), Contains("'post-deploy': expected a string"));
}

}  // namespace
}  // namespace pmx::config
