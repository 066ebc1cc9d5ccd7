// ExitReason: its names, a run's own end (exit, signal, oom), and what a transition starts
// ending a run for.
#include <catch2/catch.hpp>

#include <csignal>

#include "daemon/instance/exit_reason.hpp"

using namespace pmx::daemon;

namespace {

Transition transition_of(State from, State to, Event event) { return Transition{from, to, event, ""}; }

}  // namespace

TEST_CASE("every exit reason reads back from its name", "[exit_reason]") {
  for (ExitReason r : {ExitReason::Exit, ExitReason::Signal, ExitReason::Oom, ExitReason::MaxMemoryRestart,
                       ExitReason::HealthCheck, ExitReason::Cron, ExitReason::Watch, ExitReason::Restart,
                       ExitReason::Reload, ExitReason::Stop}) {
    CHECK(exit_reason_from_string(to_string(r)) == r);
  }
  CHECK(std::string(to_string(ExitReason::MaxMemoryRestart)) == "max_memory_restart");
  CHECK(std::string(to_string(ExitReason::HealthCheck)) == "health_check");
  CHECK_FALSE(exit_reason_from_string("crash"));
}

TEST_CASE("a run's own end is exit with its code, a signal, or oom when its cgroup counted an OOM kill",
          "[exit_reason]") {
  ExitStatus code3;
  code3.code = 3;
  CHECK(own_end(code3, 0) == ExitReason::Exit);
  CHECK(own_end(code3, 2) == ExitReason::Exit);  // an OOM kill of a child, the leader exited
  ExitStatus killed;
  killed.signal = SIGKILL;
  CHECK(own_end(killed, 0) == ExitReason::Signal);
  CHECK(own_end(killed, 1) == ExitReason::Oom);
  ExitStatus segv;
  segv.signal = SIGSEGV;
  CHECK(own_end(segv, 1) == ExitReason::Signal);  // the OOM killer sends SIGKILL only
  ExitStatus unknown;
  unknown.unknown = true;
  CHECK(own_end(unknown, 0) == ExitReason::Exit);
  CHECK(exit_reason_text(ExitReason::Exit, code3) == "exit (code 3)");
  CHECK(exit_reason_text(ExitReason::Exit, unknown) == "exit (code unknown)");
  CHECK(exit_reason_text(ExitReason::Oom, killed) == "oom (SIGKILL)");
  CHECK(exit_reason_text(ExitReason::Cron, killed) == "cron");
}

TEST_CASE("entering stopping ends a run for stop, entering restarting for what asked for the restart",
          "[exit_reason]") {
  CHECK(ending_cause(transition_of(State::Online, State::Stopping, Event::Stop), std::nullopt) == ExitReason::Stop);
  CHECK(ending_cause(transition_of(State::Launching, State::Stopping, Event::Stop), ExitReason::Cron) ==
        ExitReason::Stop);
  // A stop during a restart: the run now ends for good.
  CHECK(ending_cause(transition_of(State::Restarting, State::Stopping, Event::Stop), std::nullopt) ==
        ExitReason::Stop);
  CHECK(ending_cause(transition_of(State::Online, State::Restarting, Event::Restart), std::nullopt) ==
        ExitReason::Restart);
  CHECK(ending_cause(transition_of(State::Online, State::Restarting, Event::Restart), ExitReason::Watch) ==
        ExitReason::Watch);
  CHECK(ending_cause(transition_of(State::Online, State::Restarting, Event::MemoryExceeded), std::nullopt) ==
        ExitReason::MaxMemoryRestart);
  // Transitions that end no run by pmxd's hand.
  CHECK_FALSE(ending_cause(transition_of(State::Stopped, State::Launching, Event::Restart), ExitReason::Cron));
  CHECK_FALSE(ending_cause(transition_of(State::Online, State::WaitingRestart, Event::Exited), std::nullopt));
  CHECK_FALSE(ending_cause(transition_of(State::Stopping, State::Stopping, Event::KillTimeout), std::nullopt));
}
