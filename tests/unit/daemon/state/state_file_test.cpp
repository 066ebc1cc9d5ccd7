// State file: what a new pmxd reads back is what the last one wrote; damage is an error, never
// a crash or a half-read state.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "daemon/state/state_file.hpp"

using namespace pmx;
using namespace pmx::daemon;

namespace {

DaemonState sample_state() {
  DaemonState st;
  st.next_id = 7;
  st.envs.push_back(std::make_shared<const config::Env>(config::Env{{"PATH", "/bin"}, {"TOKEN", "s3cret"}}));
  InstanceRecord r;
  r.id = 3;
  r.spec.name = "api";
  r.spec.script = "/srv/api/server";
  r.spec.args = {"--port", "3000"};
  r.spec.kill_timeout_ms = 5000;
  r.unique_id = "0f0e";
  r.app_instance = 1;
  r.state = "online";
  r.pid = 4242;
  r.pid_start = 123456;
  r.cgroup = "/sys/fs/cgroup/pmx/3-0f0e-0";
  r.old_cgroups = {"/sys/fs/cgroup/pmx/3-0f0e-1"};
  r.restart_count = 2;
  r.unstable_restarts = 1;
  r.consecutive_unstable = 1;
  r.prev_restart_delay_ms = 150;
  r.created_at_ms = 1700000000000;
  r.started_at_ms = 1700000001000;
  r.out_path = "/home/u/.pmx/logs/api-out.log";
  r.side_runs = {{4300, 123999, "/sys/fs/cgroup/pmx/3-0f0e-2", true}, {4100, 120000, "", false}};
  st.instances.push_back(r);
  return st;
}

}  // namespace

TEST_CASE("state: encode then decode gives the same state back", "[state_file]") {
  const DaemonState st = sample_state();
  auto back = decode_state(encode_state(st));
  REQUIRE(back);
  CHECK(back->next_id == 7);
  REQUIRE(back->envs.size() == 1);
  CHECK(back->envs[0]->at("TOKEN") == "s3cret");
  REQUIRE(back->instances.size() == 1);
  const InstanceRecord& r = back->instances[0];
  CHECK(r.id == 3);
  CHECK(r.spec.name == "api");
  CHECK(r.spec.args == std::vector<std::string>{"--port", "3000"});
  CHECK(r.spec.kill_timeout_ms == 5000);
  CHECK(r.pid == 4242);
  CHECK(r.pid_start == 123456);
  CHECK(r.state == "online");
  CHECK(r.old_cgroups == st.instances[0].old_cgroups);
  CHECK(r.restart_count == 2);
  CHECK(r.prev_restart_delay_ms == 150);
  CHECK(r.started_at_ms == 1700000001000);
  CHECK(r.out_path == st.instances[0].out_path);
  REQUIRE(r.side_runs.size() == 2);
  CHECK(r.side_runs[0].pid == 4300);
  CHECK(r.side_runs[0].pid_start == 123999);
  CHECK(r.side_runs[0].cgroup == "/sys/fs/cgroup/pmx/3-0f0e-2");
  CHECK(r.side_runs[0].replacement);
  CHECK(r.side_runs[1].pid == 4100);
  CHECK_FALSE(r.side_runs[1].replacement);
}

TEST_CASE("state: side runs are optional, and a malformed one is an error", "[state_file]") {
  const std::string head = R"({"version":1,"next_id":1,"envs":[{}],"instances":[{"id":0,"spec":{"name":"a","script":"/bin/true"},"env_index":0)";
  auto none = decode_state(head + "}]}");
  REQUIRE(none);
  CHECK(none->instances.at(0).side_runs.empty());
  CHECK(!decode_state(head + R"(,"side_runs":{}}]})"));
  CHECK(!decode_state(head + R"(,"side_runs":[{"pid":"x"}]}]})"));
  CHECK(!decode_state(head + R"(,"side_runs":[{"pid":1,"replacement":1}]}]})"));
  CHECK(!decode_state(head + R"(,"side_runs":[{"pid":-4}]}]})"));
  CHECK(!decode_state(head + R"(,"side_runs":[3]}]})"));
}

TEST_CASE("state: damaged text is an error naming the problem", "[state_file]") {
  const std::string good = encode_state(sample_state());
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, good.size() / 3, good.size() / 2, good.size() - 3}) {
    INFO("cut at " << cut);
    CHECK(!decode_state(good.substr(0, cut)));
  }
  CHECK(!decode_state("[]"));
  CHECK(!decode_state(R"({"version":99,"next_id":0,"envs":[],"instances":[]})"));
  CHECK(!decode_state(R"({"version":1,"next_id":0,"envs":[],"instances":[{"id":0,"spec":{"name":"a","script":"/bin/true"},"env_index":5}]})"));
  CHECK(!decode_state(R"({"version":1,"next_id":0,"envs":[],"instances":[{"id":"x"}]})"));
  CHECK(!decode_state(R"({"version":1,"next_id":0,"envs":[{"A":1}],"instances":[]})"));
}

TEST_CASE("state: every field of the wrong type or out of range is an error naming it, never an exception",
          "[state_file][regression]") {
  // The state as written, then one field at a time replaced by what a damaged file may hold.
  const nlohmann::json good = nlohmann::json::parse(encode_state(sample_state()));
  REQUIRE(decode_state(good.dump()));
  using nlohmann::json;
  const std::vector<std::pair<std::string, json>> changes = {
      {"/version", "1"}, {"/version", 1.0}, {"/version", nullptr}, {"/version", json::array()}, {"/version", 2},
      {"/next_id", "7"}, {"/next_id", -1}, {"/next_id", 1e300}, {"/next_id", 4294967296},
      {"/envs", json::object()}, {"/envs", "x"}, {"/envs/0", 5}, {"/envs/0/PATH", 5}, {"/envs/0/PATH", json::array()},
      {"/instances", json::object()}, {"/instances/0", "x"},
      {"/instances/0/spec", 5}, {"/instances/0/spec/name", 5}, {"/instances/0/spec/kill_timeout", "soon"},
      {"/instances/0/id", "3"}, {"/instances/0/id", -1}, {"/instances/0/id", 3.5}, {"/instances/0/id", 2147483648},
      {"/instances/0/env_index", "0"}, {"/instances/0/env_index", 5}, {"/instances/0/env_index", -1},
      {"/instances/0/unique_id", 5}, {"/instances/0/app_instance", "1"}, {"/instances/0/app_instance", -2},
      {"/instances/0/state", 3},
      {"/instances/0/pid", "4242"}, {"/instances/0/pid", -4}, {"/instances/0/pid", 1e300}, {"/instances/0/pid", 4294967296},
      {"/instances/0/pid_start", -1}, {"/instances/0/pid_start", "1"}, {"/instances/0/pid_start", 18446744073709551615ULL},
      {"/instances/0/cgroup", 1}, {"/instances/0/old_cgroups", "x"}, {"/instances/0/old_cgroups/0", 1},
      {"/instances/0/cgroup_generation", -1}, {"/instances/0/cgroup_generation", 4294967296},
      {"/instances/0/restart_count", -1}, {"/instances/0/restart_count", "2"}, {"/instances/0/restart_count", 2147483648},
      {"/instances/0/unstable_restarts", true}, {"/instances/0/consecutive_unstable", 2.5},
      {"/instances/0/prev_restart_delay_ms", -150}, {"/instances/0/created_at_ms", "x"},
      {"/instances/0/started_at_ms", -9223372036854775807LL}, {"/instances/0/started_at_ms", 9223372036854775807LL},
      {"/instances/0/out_path", 5}, {"/instances/0/err_path", json::object()}, {"/instances/0/pid_path", json::array()},
      {"/instances/0/exec_error", false},
      {"/instances/0/side_runs", json::object()}, {"/instances/0/side_runs/0", 3}, {"/instances/0/side_runs/0/pid", "x"},
      {"/instances/0/side_runs/0/pid_start", -5}, {"/instances/0/side_runs/0/cgroup", 7},
      {"/instances/0/side_runs/0/replacement", 1},
  };
  for (const auto& [pointer, value] : changes) {
    json doc = good;
    doc[json::json_pointer(pointer)] = value;
    INFO(pointer << " = " << value.dump());
    Result<DaemonState> decoded = Error{""};
    CHECK_NOTHROW(decoded = decode_state(doc.dump()));
    CHECK_FALSE(decoded);
    if (!decoded) CHECK_FALSE(decoded.error().empty());
  }
  // Missing parts, and nesting no state file has.
  for (const char* key : {"version", "envs", "instances"}) {
    json doc = good;
    doc.erase(key);
    INFO("without " << key);
    CHECK_FALSE(decode_state(doc.dump()));
  }
  json deep = good;
  deep["extra"] = json::parse(std::string(100, '[') + std::string(100, ']'));
  const auto refused = decode_state(deep.dump());
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("nested deeper") != std::string::npos);
}

TEST_CASE("state: the atomic write replaces the file whole", "[state_file]") {
  char dir[] = "/tmp/pmx-state-test-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/state.json";
  REQUIRE(!write_file_atomic(path, "first\n"));
  REQUIRE(!write_file_atomic(path, "second\n"));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "second\n");
  CHECK(access((path + ".tmp").c_str(), F_OK) != 0);
  unlink(path.c_str());
  rmdir(dir);
}

