// Supervisor on a fake process layer with real probes: tcp checks against a socket the test
// listens on (and closes), exec checks whose processes the fake runs. An unhealthy run is
// restarted for health_check; failures in start_period do not count; a run never healthy
// ends errored after max_restarts. The probes' schedule is on the fake clock, which the test
// moves; a tcp probe's connect is real I/O, whose end the test waits for on the loop.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

/// A TCP socket listening on 127.0.0.1 at a free port: the kernel completes connects to it.
struct ProbedListener {
  ProbedListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~ProbedListener() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fd = -1;
  int port = 0;
};

json tcp_check(int port, int retries, int start_period_ms = 0) {
  return {{"tcp", "127.0.0.1:" + std::to_string(port)}, {"interval", 100}, {"timeout", 200},
          {"retries", retries}, {"start_period", start_period_ms}};
}

std::string health_of(const SupervisorRig& rig, int id = 0) { return to_string(rig.in(id).health.health); }

/// Moves the clock on by interval (a probe falls due) and waits until that probe has ended:
/// the instance's last result is newer, or its run has changed.
bool probed(SupervisorRig& rig, Millis interval) {
  const std::int64_t last = rig.in().health.last_at_ms;
  const pid_t pid = rig.in().run.pid;
  rig.advance(interval);
  return rig.run_until([&] { return rig.in().health.last_at_ms != last || rig.in().run.pid != pid; });
}

}  // namespace

TEST_CASE("a tcp check that passes makes the instance healthy and once it fails retries times the run is restarted for health_check",
          "[supervisor][health]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  ProbedListener listener;
  rig.start_app({{"name", "svc"}, {"health_check", tcp_check(listener.port, 2)}});
  REQUIRE(rig.online_again(0));
  CHECK(health_of(rig) == "starting");
  REQUIRE(probed(rig, Millis(100)));
  CHECK(health_of(rig) == "healthy");
  CHECK(rig.in().health.last_result == "ok: connected");
  CHECK(rig.in().health.last_at_ms > 0);
  const pid_t first = rig.in().run.pid;

  listener.close();  // now every connect is refused
  REQUIRE(probed(rig, Millis(100)));
  CHECK(rig.in().health.failures == 1);
  CHECK(rig.in().run.pid == first);
  REQUIRE(probed(rig, Millis(100)));  // the second failure in a row: restarted
  REQUIRE(rig.online_again(first));
  CHECK(rig.ops.procs.at(first).signals == std::vector<int>{SIGINT});  // graceful: kill_signal
  REQUIRE(rig.in().last_exit_reason);
  CHECK(*rig.in().last_exit_reason == ExitReason::HealthCheck);
  CHECK(rig.in().fsm.restart_count() == 1);
  CHECK(rig.in().fsm.consecutive_unstable() == 1);
  // The new run starts over.
  CHECK(health_of(rig) == "starting");
  CHECK(rig.in().health.failures == 0);
}

TEST_CASE("failures within start_period do not count", "[supervisor][health]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  int closed_port = 0;
  {
    ProbedListener gone;
    closed_port = gone.port;
  }
  json check = tcp_check(closed_port, 1, 25'000);
  check["interval"] = 10'000;
  rig.start_app({{"name", "slowstart"}, {"health_check", check}});
  REQUIRE(rig.online_again(0));
  const pid_t pid = rig.in().run.pid;
  // Two failed probes, at 10 s and 20 s, neither counted.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(probed(rig, Millis(10'000)));
    CHECK(rig.in().health.last_result.rfind("failed: ", 0) == 0);
    CHECK(rig.in().run.pid == pid);
    CHECK(rig.state() == State::Online);
    CHECK(health_of(rig) == "starting");
    CHECK(rig.in().health.failures == 0);
  }
  // The one at 30 s counts, and retries (1) makes it the last.
  REQUIRE(probed(rig, Millis(10'000)));
  REQUIRE(rig.online_again(pid));
  CHECK(*rig.in().last_exit_reason == ExitReason::HealthCheck);
}

TEST_CASE("a run that never passes its check ends errored after max_restarts, not in a restart storm",
          "[supervisor][health]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  int closed_port = 0;
  {
    ProbedListener gone;
    closed_port = gone.port;
  }
  rig.start_app({{"name", "broken"}, {"max_restarts", 3}, {"health_check", tcp_check(closed_port, 1)}});
  REQUIRE(rig.online_again(0));
  // Each run's first probe fails, and the run is restarted for it; bounded, so that a run the
  // policy keeps on is a failure, not a hang.
  for (int i = 0; i < 10 && rig.state() != State::Errored; ++i) REQUIRE(probed(rig, Millis(100)));
  REQUIRE(rig.state() == State::Errored);
  CHECK(rig.ops.spawned.size() == 3);
  CHECK(*rig.in().last_exit_reason == ExitReason::HealthCheck);
  CHECK(rig.in().fsm.reason().find("health check") != std::string::npos);
}

TEST_CASE("an exec check runs the command in the app's cwd: its exit code is the verdict and a hung one is killed at its timeout",
          "[supervisor][health]") {
  SupervisorHome home;
  SupervisorRig rig(home.path);
  rig.supervisor->start();
  rig.start_app({{"name", "checked"},
                 {"cwd", home.path},
                 {"health_check", {{"exec", "./check --quick"}, {"interval", 100}, {"timeout", 150}, {"retries", 2}}}});
  REQUIRE(rig.online_again(0));
  const pid_t app = rig.in().run.pid;

  // The first probe: a process of its own, run in the app's cwd.
  rig.advance(Millis(100));
  REQUIRE(rig.ops.spawned.size() == 2);
  const pid_t probe = rig.ops.last();
  CHECK(rig.ops.procs.at(probe).request.argv == std::vector<std::string>{"./check", "--quick"});
  CHECK(rig.ops.procs.at(probe).request.cwd == home.path);
  rig.ops.exit_code(probe, 0);
  rig.settle();
  CHECK(health_of(rig) == "healthy");
  CHECK(rig.in().health.last_result == "ok: exit 0");

  // The next one fails; the one after hangs and is killed at its timeout: two failures.
  rig.advance(Millis(100));
  REQUIRE(rig.ops.spawned.size() == 3);
  rig.ops.exit_code(rig.ops.last(), 1);
  rig.settle();
  rig.advance(Millis(100));
  REQUIRE(rig.ops.spawned.size() == 4);
  const pid_t hung = rig.ops.last();
  rig.advance(Millis(149));
  CHECK(rig.ops.procs.at(hung).signals.empty());
  CHECK(rig.in().run.pid == app);
  rig.advance(Millis(1));
  CHECK(rig.ops.procs.at(hung).signals == std::vector<int>{SIGKILL});
  REQUIRE(rig.online_again(app));
  CHECK(*rig.in().last_exit_reason == ExitReason::HealthCheck);
  CHECK(rig.supervisor->instance(0)->health.last_result.find("timed out after 150 ms") != std::string::npos);
}
