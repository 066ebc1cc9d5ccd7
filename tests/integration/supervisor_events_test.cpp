// Supervisor: every transition is published to the events topic; environments a
// client sends are checked as config checks them, before anything changes.
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("every state change of an instance is published on the events topic",
          "[integration]") {
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

TEST_CASE("a client's environment with a bad name is refused before anything changes",
          "[integration]") {
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

TEST_CASE("jlist's username is the user the app runs as", "[integration]") {
  REQUIRE(geteuid() == 0);  // CI runs as root
  const passwd* nobody = getpwnam("nobody");
  REQUIRE(nobody);
  // Run from where those users can execute it, and in a cwd they can enter (the build tree and
  // the test's cwd may be private).
  SharedFolder shared;
  const std::string sleeper = shared.executable_for(bin::kSleeper, 4243, 4243);
  if (sleeper.empty() || !accessible_by(nobody->pw_uid, nobody->pw_gid, sleeper, X_OK)) return;
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "mine"}), 0);
  REQUIRE_EXIT(s.pmx({"start", sleeper, "--name", "theirs", "--uid", "nobody", "--cwd", "/", "-f"}), 0);
  REQUIRE_EXIT(s.pmx({"start", sleeper, "--name", "nameless", "--uid", "4243", "--cwd", "/", "-f"}), 0);
  CHECK(s.app("mine")["pm2_env"]["username"] == "root");
  CHECK(s.app("theirs")["pm2_env"]["username"] == "nobody");
  CHECK(s.app("nameless")["pm2_env"]["username"] == "4243");
}

TEST_CASE("delete removes the app's pid file", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "pidded"}), 0);
  REQUIRE(s.wait_pid("pidded") > 0);
  const std::string pid_file = s.app("pidded")["pm2_env"]["pm_pid_path"].get<std::string>();
  REQUIRE(file_exists(pid_file));
  REQUIRE_EXIT(s.pmx({"delete", "pidded"}), 0);
  CHECK_FALSE(file_exists(pid_file));
}

TEST_CASE("a log file that cannot be written is reported once and its bytes counted",
          "[integration]") {
  Session s;
  // A path below a regular file can never be opened, even by root.
  const std::string blocker = s.home.scratch("not-a-dir");
  { std::ofstream(blocker) << "x"; }
  const std::string out = blocker + "/out.log";
  REQUIRE_EXIT(s.pmx({"start", bin::kLinegen, "--name", "lost", "--output", out, "--", "50"}), 0);
  REQUIRE(s.wait_pid("lost") > 0);
  long expected = 0;  // "out 1\n" .. "out 50\n"
  for (int i = 1; i <= 50; ++i) expected += static_cast<long>(std::to_string(i).size()) + 5;
  REQUIRE(wait_until([&] { return s.app("lost")["pm2_env"]["log_dropped_bytes"].get<long>() == expected; }, 10s));
  // Said once in pmx.log (an error line: flushed at once), not once per line.
  std::size_t said = 0;
  for (const auto& line : read_lines(s.home.daemon_log())) said += line.find(out) != std::string::npos;
  CHECK(said == 1);
  // The app runs on, and its stderr still reaches its own file.
  CHECK(s.status("lost") == "online");
  const std::string err = s.app("lost")["pm2_env"]["pm_err_log_path"].get<std::string>();
  CHECK(wait_until([&] { return read_lines(err).size() == 50; }, 10s));
}
