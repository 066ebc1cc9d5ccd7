// Supervisor (issue 6): every transition is published to the events topic; environments a
// client sends are checked as config checks them, before anything changes.
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("issue_6: every state change of an instance is published on the events topic",
          "[integration][issue_6]") {
  Session s;
  RawClient sub;
  REQUIRE(sub.connect(s.home.socket()));
  auto ok = sub.call(1, "subscribe", {{"topics", {"events"}}});
  REQUIRE(ok);
  REQUIRE(ok->contains("result"));

  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "watched"}), 0);
  REQUIRE_EXIT(s.pmx({"stop", "watched"}), 0);

  // stopped -> launching -> online -> stopping -> stopped, in order, among other events.
  std::vector<std::string> seen;
  const std::vector<std::string> expected{"launching", "online", "stopping", "stopped"};
  const bool all = wait_until(
      [&] {
        while (auto line = sub.read_line(50ms)) {
          json n = json::parse(*line, nullptr, false);
          if (n.is_discarded() || n.value("method", "") != "instance.state") continue;
          const json& p = n["params"];
          CHECK(p["name"] == "watched");
          CHECK(p.contains("from"));
          CHECK(p.contains("event"));
          CHECK(p.contains("reason"));
          if (p["to"] == "online") CHECK(p["pid"].get<int>() > 0);
          seen.push_back(p["to"].get<std::string>());
        }
        return seen.size() >= expected.size();
      },
      10s);
  INFO("seen: " << json(seen).dump());
  REQUIRE(all);
  CHECK(std::vector<std::string>(seen.begin(), seen.begin() + 4) == expected);
}

TEST_CASE("issue_6: a client's environment with a bad name is refused before anything changes",
          "[integration][issue_6]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  const json app{{"name", "envy"}, {"script", bin::kSleeper}};
  auto bad_start = c.call(1, "start", {{"app", app}, {"env", {{"A=B", "x"}}}});
  REQUIRE(bad_start);
  INFO(bad_start->dump());
  CHECK((*bad_start)["error"]["code"] == -32602);
  CHECK((*bad_start)["error"]["message"].get<std::string>().find("params.env") != std::string::npos);
  auto typed = c.call(2, "start", {{"app", app}, {"env", {{"N", 1}}}});
  REQUIRE(typed);
  CHECK((*typed)["error"]["code"] == -32602);
  CHECK(s.jlist().empty());

  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "envy"}), 0);
  const pid_t pid = s.wait_pid("envy");
  auto bad_restart = c.call(3, "restart", {{"targets", {"envy"}}, {"app_env", {{"", "x"}}}});
  REQUIRE(bad_restart);
  CHECK((*bad_restart)["error"]["code"] == -32602);
  // Not restarted: same process, no restart counted.
  const json e = s.app("envy");
  CHECK(e["pid"].get<pid_t>() == pid);
  CHECK(e["pm2_env"]["restart_time"] == 0);
}
