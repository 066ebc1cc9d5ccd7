// Restart policy: respawn after a crash, max_restarts/min_uptime, autorestart, stop_exit_codes,
// restart_delay.
#include <signal.h>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

int restart_time(const json& app) { return app["pm2_env"]["restart_time"].get<int>(); }

}  // namespace

TEST_CASE("kill -9 of an app respawns it with a new pid", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "k", "--kill-timeout", "500"}), 0);
  pid_t first = s.wait_pid("k");
  REQUIRE(first > 0);
  REQUIRE(kill(first, SIGKILL) == 0);

  pid_t second = 0;
  REQUIRE(wait_until(
      [&] {
        auto app = s.app("k");
        second = app["pid"].get<pid_t>();
        return second > 0 && second != first && process_alive(second);
      },
      10s));
  CHECK_FALSE(process_alive(first));
  CHECK(restart_time(s.app("k")) == 1);
}

TEST_CASE("pmx signal delivers a signal - an app ended by it is restarted",
          "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sig", "--kill-timeout", "500"}), 0);
  pid_t first = s.wait_pid("sig");
  REQUIRE(first > 0);
  // sleeper exits 0 on SIGTERM; exit code 0 is not a stop exit code, so it is restarted.
  REQUIRE_EXIT(s.pmx({"signal", "SIGTERM", "sig"}), 0);
  REQUIRE(wait_until(
      [&] {
        auto app = s.app("sig");
        pid_t p = app["pid"].get<pid_t>();
        return p > 0 && p != first && restart_time(app) == 1;
      },
      10s));
  CHECK_FALSE(process_alive(first));
}

TEST_CASE("a crash loop ends errored after max_restarts", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "crash", "--max-restarts", "3",
                      "--min-uptime", "1000", "--", "0", "1"}),
               0);
  REQUIRE(s.wait_status("crash", "errored", 15s));
  auto app = s.app("crash");
  int restarts = restart_time(app);
  INFO("restart_time when errored: " << restarts << "\n" << app.dump(2));
  // Three unstable runs in a row (PM2 counts 2 or 3 restarts depending on where it counts).
  CHECK(restarts >= 2);
  CHECK(restarts <= 3);
  CHECK(app["pid"] == 0);
  CHECK(app["pm2_env"]["exit_code"] == 1);
  // Errored is final: no further restart within a generous window.
  CHECK_FALSE(wait_until(
      [&] {
        auto a = s.app("crash");
        return restart_time(a) != restarts || a["pm2_env"]["status"] != "errored";
      },
      800ms));
}

TEST_CASE("runs longer than min_uptime are restarted beyond max_restarts",
          "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "stable", "--max-restarts", "3",
                      "--min-uptime", "200", "--", "400", "1"}),
               0);
  bool saw_errored = false;
  int restarts = 0;
  bool ok = wait_until(
      [&] {
        auto app = s.app("stable");
        if (app["pm2_env"]["status"] == "errored") saw_errored = true;
        restarts = restart_time(app);
        return saw_errored || restarts > 3;
      },
      20s);
  INFO("restart_time " << restarts);
  CHECK(ok);
  CHECK_FALSE(saw_errored);
  CHECK(restarts > 3);
  CHECK(s.app("stable")["pm2_env"]["unstable_restarts"] == 0);
}

TEST_CASE("no-autorestart: the app is stopped after it exits", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "once", "--no-autorestart",
                      "--min-uptime", "100", "--", "200", "0"}),
               0);
  REQUIRE(s.wait_status("once", "stopped", 10s));
  auto app = s.app("once");
  CHECK(app["pid"] == 0);
  CHECK(restart_time(app) == 0);
  CHECK(app["pm2_env"]["autorestart"] == false);
  CHECK_FALSE(wait_until([&] { return s.status("once") != "stopped"; }, 600ms));
}

TEST_CASE("stop-exit-codes: a listed exit code stops the app", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "code3", "--stop-exit-codes", "3",
                      "--min-uptime", "100", "--", "200", "3"}),
               0);
  REQUIRE(s.wait_status("code3", "stopped", 10s));
  auto app = s.app("code3");
  CHECK(restart_time(app) == 0);
  CHECK(app["pm2_env"]["exit_code"] == 3);
  CHECK_FALSE(wait_until([&] { return s.status("code3") != "stopped"; }, 600ms));
}

TEST_CASE("stop-exit-codes: another exit code is restarted", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "code4", "--stop-exit-codes", "3",
                      "--min-uptime", "100", "--", "200", "4"}),
               0);
  REQUIRE(wait_until([&] { return restart_time(s.app("code4")) >= 1; }, 10s));
  CHECK(s.status("code4") != "stopped");
}

TEST_CASE("restart-delay: waiting restart during the delay, then online",
          "[integration][restart]") {
  Session s;
  // Each run lasts 2 s: long enough for `online` to be seen between two runs on a slow machine.
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "delayed", "--restart-delay", "1500",
                      "--min-uptime", "100", "--", "2000", "1"}),
               0);
  REQUIRE(s.wait_status("delayed", "waiting restart", 10s));
  auto waiting_since = Clock::now();
  CHECK(s.app("delayed")["pid"] == 0);

  REQUIRE(wait_until(
      [&] {
        auto app = s.app("delayed");
        return restart_time(app) >= 1 && app["pid"].get<int>() > 0;
      },
      10s));
  auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - waiting_since);
  INFO("relaunched " << waited.count() << " ms after 'waiting restart' was first seen");
  // Seen late by up to one poll plus jlist latency; never much before the 1.5 s delay.
  CHECK(waited >= 1000ms);
  CHECK(s.wait_status("delayed", "online", 5s));
}

TEST_CASE("stop during waiting restart cancels the restart", "[integration][restart]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kExitAfter, "--name", "cancel", "--restart-delay", "1500",
                      "--min-uptime", "100", "--", "200", "1"}),
               0);
  REQUIRE(s.wait_status("cancel", "waiting restart", 10s));
  REQUIRE_EXIT(s.pmx({"stop", "cancel"}), 0);
  CHECK(s.status("cancel") == "stopped");
  CHECK_FALSE(wait_until([&] { return s.status("cancel") != "stopped"; }, 2000ms));
}
