// listen entries and the cluster-mode rule.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "config/listen_address.hpp"

using pmx::config::ListenAddress;
using pmx::config::parse_listen_address;

TEST_CASE("listen entries: ports, IPv4, IPv6 and Unix sockets in their canonical form", "[config][listen]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"3000", "*:3000"},
      {":3000", "*:3000"},
      {"*:3000", "*:3000"},
      {"0.0.0.0:80", "0.0.0.0:80"},
      {"127.0.0.1:8080", "127.0.0.1:8080"},
      {"localhost:8080", "127.0.0.1:8080"},
      {"[::]:443", "[::]:443"},
      {"[::1]:3000", "[::1]:3000"},
      {"unix:/run/app.sock", "unix:/run/app.sock"},
      {"unix:/run/app.sock,mode=0660", "unix:/run/app.sock"},
  };
  for (const auto& [in, text] : cases) {
    INFO(in);
    auto a = parse_listen_address(in);
    REQUIRE(a);
    CHECK(a->text() == text);
  }
  CHECK(parse_listen_address("unix:/run/app.sock")->mode == 0666);
  CHECK(parse_listen_address("unix:/run/app.sock,mode=0660")->mode == 0660);
  CHECK(parse_listen_address("[::1]:3000")->host == "::1");
}

TEST_CASE("listen entries: what cannot be read is named", "[config][listen]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected a port"},
      {"0", "the port must be 1..65535"},
      {"65536", "the port must be 1..65535"},
      {"127.0.0.1:", "expected a port"},
      {"example.com:80", "'example.com' is not an IP address"},
      {"[::1:80", "expected a port"},
      {"[fe80::zz]:80", "is not an IPv6 address"},
      {"unix:run/app.sock", "absolute path"},
      {"unix:/run/app.sock,mode=999", "mode must be octal"},
      {"unix:/" + std::string(120, 'x'), "at most 107 bytes"},
  };
  for (const auto& [in, message] : cases) {
    INFO(in);
    auto a = parse_listen_address(in);
    REQUIRE_FALSE(a);
    CHECK(a.error().find(message) != std::string::npos);
  }
}

TEST_CASE("cluster mode: PM2's rule for Node apps, sockets for any other", "[config][listen]") {
  auto spec = [](nlohmann::json j) {
    j["name"] = "app";
    j["script"] = "/srv/app";
    auto s = pmx::config::spec_from_json(j);
    REQUIRE(s);
    return *s;
  };
  // instances without exec_mode: cluster for node, fork for others unless they name sockets.
  auto node = spec({{"interpreter", "/usr/bin/node"}, {"instances", 2}});
  CHECK(node.exec_mode == "cluster");
  CHECK(pmx::config::runs_in_cluster_mode(node));
  auto python = spec({{"interpreter", "python3"}, {"instances", 2}});
  CHECK(python.exec_mode == "fork");
  auto python_port = spec({{"interpreter", "python3"}, {"instances", 2}, {"port", 8000}});
  CHECK(pmx::config::runs_in_cluster_mode(python_port));
  // No instances: fork, whatever the interpreter (a port only sets PORT then).
  CHECK(spec({{"interpreter", "node"}, {"port", 3000}}).exec_mode == "fork");
  // An explicit exec_mode wins; cluster without sockets for a non-Node app runs in fork mode.
  CHECK(spec({{"interpreter", "node"}, {"instances", 2}, {"exec_mode", "fork_mode"}}).exec_mode == "fork");
  auto asked = spec({{"interpreter", "python3"}, {"exec_mode", "cluster_mode"}});
  CHECK_FALSE(pmx::config::runs_in_cluster_mode(asked));
  CHECK(pmx::config::unsupported_options(asked).size() == 1);
  // The decision survives the trip to the daemon.
  auto again = pmx::config::spec_from_json(pmx::config::to_json(node));
  REQUIRE(again);
  CHECK(again->exec_mode == "cluster");
  // A bad entry names the option.
  auto bad = pmx::config::spec_from_json({{"name", "a"}, {"script", "/a"}, {"listen", {"3000", "nope"}}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("option 'listen': 'nope'") != std::string::npos);
}
