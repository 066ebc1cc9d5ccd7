// HealthCheck: the health_check option read from objects and strings, its errors, its targets
// split up and filled in per instance.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "config/app_spec.hpp"
#include "config/health_check.hpp"

using namespace pmx::config;
using json = nlohmann::json;

TEST_CASE("health_check: an object with one probe gets Docker's defaults for what it leaves out", "[health_check]") {
  auto c = health_check_from_json(json{{"http", "http://127.0.0.1:3000/health"}});
  REQUIRE(c);
  CHECK(c->kind == HealthCheck::Kind::Http);
  CHECK(c->target == "http://127.0.0.1:3000/health");
  CHECK(c->interval_ms == 30000);
  CHECK(c->timeout_ms == 30000);
  CHECK(c->retries == 3);
  CHECK(c->start_period_ms == 0);

  auto t = health_check_from_json(
      json{{"tcp", "127.0.0.1:3000"}, {"interval", "10s"}, {"timeout", 2000}, {"retries", 5}, {"start_period", "1m"}});
  REQUIRE(t);
  CHECK(t->kind == HealthCheck::Kind::Tcp);
  CHECK(t->interval_ms == 10000);
  CHECK(t->timeout_ms == 2000);
  CHECK(t->retries == 5);
  CHECK(t->start_period_ms == 60000);
  // Written back as read.
  CHECK(health_check_from_json(health_check_to_json(*t))->operator==(*t));
  CHECK(health_check_to_json(HealthCheck{}).is_null());
}

TEST_CASE("health_check: the CLI's string forms", "[health_check]") {
  CHECK(health_check_from_json("http://localhost:8080/")->kind == HealthCheck::Kind::Http);
  auto tcp = health_check_from_json("tcp://127.0.0.1:6379");
  REQUIRE(tcp);
  CHECK(tcp->kind == HealthCheck::Kind::Tcp);
  CHECK(tcp->target == "127.0.0.1:6379");
  auto exec = health_check_from_json("exec:./bin/check --quick");
  REQUIRE(exec);
  CHECK(exec->kind == HealthCheck::Kind::Exec);
  CHECK(exec->target == "./bin/check --quick");
  CHECK_FALSE(health_check_from_json(nullptr)->enabled());
  CHECK_FALSE(health_check_from_json(false)->enabled());
}

TEST_CASE("health_check: each wrong value is refused, naming its key", "[health_check]") {
  auto error_of = [](const json& j) {
    auto r = health_check_from_json(j);
    return r ? std::string("(accepted)") : r.error();
  };
  CHECK_THAT(error_of(json{{"interval", "5s"}}), Catch::Contains("exactly one of http, tcp or exec"));
  CHECK_THAT(error_of(json{{"http", "http://127.0.0.1/"}, {"tcp", "127.0.0.1:1"}}), Catch::Contains("exactly one"));
  CHECK_THAT(error_of(json{{"http", "http://127.0.0.1/"}, {"intervall", "5s"}}), Catch::Contains("unknown key 'intervall'"));
  CHECK_THAT(error_of(json{{"http", "https://127.0.0.1/"}}), Catch::Contains("health_check.http"));
  CHECK_THAT(error_of(json{{"http", "http://db.internal:80/"}}), Catch::Contains("must be an IP address or localhost"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1"}}), Catch::Contains("no port"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:70000"}}), Catch::Contains("1..65535"));
  CHECK_THAT(error_of(json{{"exec", ""}}), Catch::Contains("health_check.exec"));
  CHECK_THAT(error_of(json{{"exec", "check 'unclosed"}}), Catch::Contains("health_check.exec"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:1"}, {"interval", "soon"}}), Catch::Contains("health_check.interval"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:1"}, {"interval", 10}}), Catch::Contains("at least 100 ms"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:1"}, {"timeout", -1}}), Catch::Contains("health_check.timeout"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:1"}, {"retries", 0}}), Catch::Contains("health_check.retries"));
  CHECK_THAT(error_of(json{{"tcp", "127.0.0.1:1"}, {"retries", "3"}}), Catch::Contains("health_check.retries"));
  CHECK_THAT(error_of(json{{"tcp", 3000}}), Catch::Contains("expected a string"));
  CHECK_THAT(error_of(json::array()), Catch::Contains("expected an object"));
  CHECK_THAT(error_of("ping 127.0.0.1"), Catch::Contains("expected http://"));
}

TEST_CASE("health_check: {instance} and {port} name the instance probed", "[health_check]") {
  CHECK(health_target_for("http://127.0.0.1:{port}/health?i={instance}", 2, "9102") ==
        "http://127.0.0.1:9102/health?i=2");
  CHECK(health_target_for("no placeholders", 1, "1") == "no placeholders");
  CHECK(health_target_for("{port", 1, "1") == "{port");
  // Checked at start with the placeholders filled in.
  CHECK(health_check_from_json(json{{"http", "http://127.0.0.1:{port}/"}}));
  CHECK(health_check_from_json(json{{"tcp", "127.0.0.1:91{instance}"}}));
}

TEST_CASE("health_check: http and tcp targets split up", "[health_check]") {
  auto h = parse_http_target("http://127.0.0.1:3000/health?deep=1");
  REQUIRE(h);
  CHECK(h->host == "127.0.0.1");
  CHECK(h->port == 3000);
  CHECK(h->path == "/health?deep=1");
  auto bare = parse_http_target("http://[::1]");
  REQUIRE(bare);
  CHECK(bare->host == "::1");
  CHECK(bare->port == 80);
  CHECK(bare->path == "/");
  CHECK_FALSE(parse_http_target("http://user@127.0.0.1/"));
  CHECK_FALSE(parse_http_target("http://127.0.0.1/a b"));
  auto t = parse_tcp_target("[::1]:6379");
  REQUIRE(t);
  CHECK(t->host == "::1");
  CHECK(t->port == 6379);
}

TEST_CASE("health_check is an app option: read with the others, its error names the option", "[health_check]") {
  auto spec = spec_from_json(json{{"name", "api"}, {"script", "/bin/true"}, {"health_check", {{"tcp", "127.0.0.1:3000"}}}});
  REQUIRE(spec);
  CHECK(spec->health_check.kind == HealthCheck::Kind::Tcp);
  auto bad = spec_from_json(json{{"name", "api"}, {"script", "/bin/true"}, {"health_check", {{"tcp", "nowhere"}}}});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error(), Catch::Contains("health_check"));
}
