// Shutdown: while pmxd stops every app to exit (`pmx kill`), nothing starts again. The verbs
// that start processes are refused with a `shutting_down` error (the CLI exits 1), watch
// triggers are ignored with a log line, and the kill ends as soon as the apps have stopped:
// no app is left running under PID 1 after pmxd is gone.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("a restart, reload, scale or start while pmxd shuts down is refused and leaves no app behind",
          "[integration][shutdown][regression]") {
  Session s;
  const std::string watched = s.home.scratch("watched");
  REQUIRE(::mkdir(watched.c_str(), 0755) == 0);
  // slow keeps the shutdown going for a while: it ignores the stop signal until kill_timeout.
  REQUIRE_EXIT(s.pmx({"start", bin::kIgnoreSignals, "--name", "slow", "--kill-timeout", "4000"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quick", "--kill-timeout", "500"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "watched", "--cwd", watched, "--watch", "--watch-delay", "100",
                      "--kill-timeout", "500"}),
               0);
  const pid_t quick = s.wait_pid("quick");
  REQUIRE(quick > 0);
  const pid_t slow = s.wait_pid("slow");
  REQUIRE(slow > 0);
  REQUIRE(wait_until([&] { return process_ignores(slow, {SIGINT, SIGTERM}); }, 5s));

  const auto began = Clock::now();
  auto kill = std::async(std::launch::async, [&] {
    RunOptions opts;
    opts.timeout = 60s;
    opts.on_poll = [] {};  // the test's thread reaps pmxd
    return run_pmx(s.home.path(), {"kill"}, opts);
  });
  // pmxd is shutting down: quick has stopped, slow is still stopping.
  REQUIRE(wait_until([&] { return s.status("quick") == "stopped" && s.status("slow") == "stopping"; }, 10s));

  for (const std::vector<std::string>& verb : {std::vector<std::string>{"restart", "quick"},
                                               std::vector<std::string>{"reload", "quick"},
                                               std::vector<std::string>{"scale", "quick", "2"},
                                               std::vector<std::string>{"start", bin::kSleeper, "--name", "late"}}) {
    const RunResult r = s.pmx(verb);
    CHECK_EXIT(r, 1);
    CHECK(mentions(r.err, "pmxd is shutting down"));
  }
  // On the wire: a JSON-RPC error of its own kind.
  RawClient client;
  REQUIRE(client.connect(s.home.socket()));
  const auto reply = client.call(1, "restart", {{"targets", {"quick"}}});
  REQUIRE(reply.has_value());
  INFO(reply->dump());
  CHECK((*reply)["error"].value("code", 0) == -32006);
  CHECK((*reply)["error"]["data"].value("kind", "") == "shutting_down");
  CHECK((*reply)["error"]["data"].value("verb", "") == "restart");
  // A watch trigger is ignored, and says so.
  std::ofstream(watched + "/changed.js") << "x\n";
  CHECK(wait_until([&] {
    return mentions(read_file(s.home.daemon_log()).value_or(""), "changed, ignored: pmxd is shutting down");
  }, 10s));

  // The kill ends once slow is killed at its kill_timeout, not at the 120 s reply deadline.
  REQUIRE(wait_until([&] {
    s.daemon.poll_exit();
    return kill.wait_for(0s) == std::future_status::ready;
  }, 30s));
  CHECK_EXIT(kill.get(), 0);
  CHECK(Clock::now() - began < 20s);
  REQUIRE(s.daemon.wait_exit(10s).value_or(-1) == 0);
  CHECK_FALSE(process_alive(quick));
  // quick was forked once, at its start; late never.
  const std::string log = read_file(s.home.daemon_log()).value_or("");
  std::size_t forks = 0;
  for (auto at = log.find("quick:1 forked"); at != std::string::npos; at = log.find("quick:1 forked", at + 1)) ++forks;
  CHECK(forks == 1);
  CHECK_FALSE(mentions(log, "late:"));
}
