// Why each run ended: pm2_env.last_exit_reason in jlist, "last exit" in describe, the pmx.log
// line of the exit and instance.exit on the events topic, for the reasons a real process and
// the real pmxd give: its own exit, a signal pmxd did not send, restart, reload, stop and the
// memory limit.
#include <signal.h>

#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// The last_exit_reason of app name, "" while it has none.
std::string last_exit_reason_of(Session& s, const std::string& name) {
  const auto entry = s.find_app(name);
  if (!entry) return "";
  const json& reason = (*entry)["pm2_env"]["last_exit_reason"];
  return reason.is_string() ? reason.get<std::string>() : "";
}

/// Waits until app name's last run ended for reason; true when it did.
bool ended_for(Session& s, const std::string& name, const std::string& reason) {
  return wait_until([&] { return last_exit_reason_of(s, name) == reason; }, 15s);
}

/// The reasons of the instance.exit notifications read from sub so far, appended to seen.
void read_exit_events(RawClient& sub, std::vector<std::string>& seen) {
  while (auto line = sub.read_line(20ms)) {
    const json n = json::parse(*line, nullptr, false);
    if (n.is_discarded() || n.value("method", "") != "instance.exit") continue;
    seen.push_back(n["params"]["name"].get<std::string>() + ":" + n["params"]["reason"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("jlist, describe, pmx.log and the events stream say why each run ended", "[integration][exit_reason]") {
  Session s;
  RawClient sub;
  REQUIRE(sub.connect(s.home.socket()));
  REQUIRE(sub.call(1, "subscribe", {{"topics", {"events"}}}));

  // Before any run ended there is no reason.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sleepy"}), 0);
  const pid_t first = s.wait_pid("sleepy");
  REQUIRE(first > 0);
  CHECK(s.app("sleepy")["pm2_env"]["last_exit_reason"].is_null());

  // Its own exit, with its code.
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "quitter", "--no-autorestart", "--", "100", "3"}), 0);
  REQUIRE(ended_for(s, "quitter", "exit"));
  CHECK(s.app("quitter")["pm2_env"]["exit_code"] == 3);
  CHECK(s.app("quitter")["pm2_env"]["last_exit_at"].is_number());
  const RunResult described = s.pmx({"describe", "quitter"});
  INFO(described.out);
  CHECK(mentions(described.out, "exit (code 3) at "));

  // A signal pmxd did not send.
  REQUIRE(::kill(first, SIGKILL) == 0);
  REQUIRE(ended_for(s, "sleepy", "signal"));
  CHECK(s.app("sleepy")["pm2_env"]["exit_signal"] == "SIGKILL");
  CHECK(mentions(s.pmx({"describe", "sleepy"}).out, "signal (SIGKILL) at "));

  // What pmxd was asked to do.
  REQUIRE(s.wait_pid("sleepy") > 0);
  REQUIRE_EXIT(s.pmx({"restart", "sleepy"}), 0);
  CHECK(last_exit_reason_of(s, "sleepy") == "restart");
  REQUIRE_EXIT(s.pmx({"reload", "sleepy"}), 0);
  CHECK(last_exit_reason_of(s, "sleepy") == "reload");
  REQUIRE_EXIT(s.pmx({"stop", "sleepy"}), 0);
  CHECK(last_exit_reason_of(s, "sleepy") == "stop");

  // The graceful memory limit: memhog grows 50 MB/s past 20M.
  REQUIRE_EXIT(s.pmx({"start", bin::kMemhog, "--name", "hog", "--max-memory-restart", "20M", "--", "50", "200"}), 0);
  REQUIRE(ended_for(s, "hog", "max_memory_restart"));
  REQUIRE_EXIT(s.pmx({"delete", "hog"}), 0);

  // pmx.log names the reason on the line of each exit (pmxd flushes its log once a second).
  for (const char* reason : {"exit", "signal", "restart", "reload", "stop", "max_memory_restart"}) {
    INFO(reason);
    CHECK(wait_until(
        [&] {
          return mentions(read_file(s.home.daemon_log()).value_or(""), std::string("(exit reason: ") + reason + ")");
        },
        5s));
  }

  // And the events stream, in order for the app that went through most of them.
  std::vector<std::string> seen;
  const std::vector<std::string> expected{"sleepy:signal", "sleepy:restart", "sleepy:reload", "sleepy:stop"};
  wait_until(
      [&] {
        read_exit_events(sub, seen);
        std::vector<std::string> sleepy;
        for (const auto& e : seen) {
          if (e.rfind("sleepy:", 0) == 0) sleepy.push_back(e);
        }
        return sleepy == expected;
      },
      10s);
  INFO(json(seen).dump());
  CHECK(std::find(seen.begin(), seen.end(), "quitter:exit") != seen.end());
  CHECK(std::find(seen.begin(), seen.end(), "hog:max_memory_restart") != seen.end());
  std::vector<std::string> sleepy;
  for (const auto& e : seen) {
    if (e.rfind("sleepy:", 0) == 0) sleepy.push_back(e);
  }
  CHECK(sleepy == expected);
}
