// Regression tests at the CLI and protocol edges: nesting, overflowing durations,
// env keys, the name of an RPC start, oversized requests, the CLI's timeout, log file names.
#include <signal.h>

#include <fstream>
#include <set>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using Catch::Matchers::Contains;

namespace {

/// The error object of the reply to line, sent raw; fails the test when there is none.
json error_of(RawClient& c, const std::string& line) {
  REQUIRE(c.send(line + "\n"));
  auto reply = c.read_line(10s);
  INFO("reply: " << reply.value_or("<none>"));
  REQUIRE(reply);
  json j = json::parse(*reply, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  return j["error"];
}

bool pings(RawClient& c) {
  auto r = c.call(99, "ping");
  return r && !r->is_discarded() && r->contains("result");
}

std::string write_file(const TempHome& home, const std::string& name, const std::string& text) {
  const std::string path = home.scratch(name);
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("deeply nested requests get an error and pmxd still serves ping", "[integration]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  const std::string head = R"({"jsonrpc":"2.0","id":1,"method":"start","params":)";
  const std::string in_env = head + R"({"app":{"name":"deep","script":"/bin/sh","env":{"X":)" +
                             std::string(100000, '[') + std::string(100000, ']') + "}}}}";
  const std::string in_params = head + std::string(400000, '[') + std::string(400000, ']') + "}";
  for (const std::string* line : {&in_env, &in_params}) {
    json e = error_of(c, *line);
    CHECK(e["code"] == -32600);
    CHECK_THAT(e["message"].get<std::string>(), Contains("nested deeper than 64 levels"));
    CHECK(pings(c));
  }
  RawClient other;
  REQUIRE(other.connect(s.home.socket()));
  CHECK(pings(other));
  CHECK_FALSE(s.find_app("deep").has_value());
}

TEST_CASE("durations above 24.8 days are refused, from the CLI and from files", "[integration]") {
  Session s;
  auto r = s.pmx({"start", bin::kSleeper, "--name", "slow", "--kill-timeout", "10000000000000"});
  CHECK_EXIT(r, 2);
  CHECK_THAT(r.err, Contains("kill_timeout") && Contains("at most 2147483647 ms"));
  const std::string file = write_file(s.home, "eco.json",
                                      "{\"apps\": [{\"name\": \"slow\", \"script\": \"" + bin::kSleeper +
                                          "\",\n  \"kill_timeout\": 18446744073709551615}]}\n");
  auto f = s.pmx({"start", file});
  CHECK_EXIT(f, 2);
  CHECK_THAT(f.err, Contains("eco.json:2:3: app 'slow': option 'kill_timeout'"));
  for (const char* option : {"--restart-delay", "--min-uptime", "--exp-backoff-restart-delay", "--listen-timeout"}) {
    auto o = s.pmx({"start", bin::kSleeper, "--name", "slow", option, "25d"});
    INFO(option);
    CHECK_EXIT(o, 2);
  }
  CHECK(s.jlist().empty());
  // The largest accepted value starts normally and stop still signals first.
  CHECK_EXIT(s.pmx({"start", bin::kSleeper, "--name", "patient", "--kill-timeout", "2147483647"}), 0);
  CHECK(s.wait_pid("patient") > 0);
  CHECK(s.app("patient")["pm2_env"]["kill_timeout"] == 2147483647);
}

TEST_CASE("env keys with '=', empty or NUL are refused (RPC and files)", "[integration]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  for (const char* env : {R"({"A=B":"x"})", R"({"":"x"})", R"({"A\u0000B":"x"})", R"({"A":"x\u0000y"})"}) {
    INFO(env);
    json e = error_of(c, std::string(R"({"jsonrpc":"2.0","id":1,"method":"start","params":{"app":{"name":"e","script":"/bin/sh","env":)") +
                             env + "}}}");
    CHECK(e["code"] == -32602);
    CHECK_THAT(e["message"].get<std::string>(), Contains("option 'env'"));
  }
  const std::string file = write_file(s.home, "eco.yaml",
                                      "apps:\n  - name: e\n    script: " + bin::kSleeper + "\n    env:\n      A=B: x\n");
  auto f = s.pmx({"start", file});
  CHECK_EXIT(f, 2);
  CHECK_THAT(f.err, Contains("eco.yaml:4:5: app 'e': option 'env': variable name 'A=B' contains '='"));
  CHECK(s.jlist().empty());
}

TEST_CASE("an RPC start without a name says the name is required", "[integration]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  json e = error_of(c, R"({"jsonrpc":"2.0","id":1,"method":"start","params":{"app":{"script":"/bin/sh"}}})");
  CHECK(e["code"] == -32602);
  CHECK_THAT(e["message"].get<std::string>(), Contains("option 'name': required"));
}

TEST_CASE("a request over 1 MiB is reported as too large, not as a broken pipe", "[integration]") {
  Session s;
  // The caller's environment goes with `start`: 12 variables of 100 KB make it 1.2 MB.
  RunOptions big;
  for (int i = 0; i < 12; ++i) big.env.emplace_back("BIG" + std::to_string(i), std::string(100'000, 'x'));
  auto r = s.pmx({"start", bin::kSleeper, "--name", "big"}, big);
  CHECK_EXIT(r, 2);
  CHECK_THAT(r.err, Contains("too large") && Contains("at most 1048576"));
  CHECK_THAT(r.err, !Contains("Broken pipe"));
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("pmx gives up on a stopped daemon after --timeout and exits 3", "[integration]") {
  Session s;
  CHECK_EXIT(s.pmx({"ping"}), 0);
  REQUIRE(::kill(s.daemon.pid(), SIGSTOP) == 0);
  RunOptions opts;
  opts.timeout = 20s;  // the deadline of this check, far above the 1 s under test
  auto r = s.pmx({"ping", "--timeout", "1s"}, opts);
  auto q = s.pmx({"--timeout", "500ms", "jlist"}, opts);
  REQUIRE(::kill(s.daemon.pid(), SIGCONT) == 0);
  CHECK_FALSE(r.timed_out);
  CHECK_EXIT(r, 3);
  CHECK_THAT(r.err, Contains("did not answer within 1s"));
  CHECK_EXIT(q, 3);
  CHECK_THAT(q.err, Contains("did not answer within 500 ms"));
  CHECK_EXIT(s.pmx({"ping"}), 0);
  CHECK_EXIT(s.pmx({"ping", "--timeout", "soon"}), 2);
}

TEST_CASE("app names that used to share a log file get their own", "[integration]") {
  Session s;
  for (const char* name : {"a b", "a_b", "日本", "中国"}) {
    CHECK_EXIT(s.pmx({"start", bin::kSleeper, "--name", name, "-f"}), 0);
  }
  std::set<std::string> out_logs, err_logs;
  for (const char* name : {"a b", "a_b", "日本", "中国"}) {
    json env = s.app(name)["pm2_env"];
    out_logs.insert(env["pm_out_log_path"].get<std::string>());
    err_logs.insert(env["pm_err_log_path"].get<std::string>());
  }
  CHECK(out_logs.size() == 4);
  CHECK(err_logs.size() == 4);
  CHECK(out_logs.count(s.home.path() + "/logs/a%20b-out.log") == 1);
  CHECK(out_logs.count(s.home.path() + "/logs/a_b-out.log") == 1);
  CHECK(out_logs.count(s.home.path() + "/logs/日本-out.log") == 1);
}
