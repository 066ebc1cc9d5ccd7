// RunTime: a process's start read from /proc (a zombie's too), the boot clock, run lengths.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "daemon/process/run_time.hpp"

using namespace pmx::daemon;
using std::chrono::milliseconds;

TEST_CASE("a process's start: a live one's, a zombie's but for its identity, none for one gone", "[run_time]") {
  CHECK(start_ticks_of(::getpid()) != 0);
  CHECK(live_start_ticks_of(::getpid()) == start_ticks_of(::getpid()));
  for (pid_t none : {0, -1, 0x3fffffff}) {
    CHECK(start_ticks_of(none) == 0);
    CHECK(live_start_ticks_of(none) == 0);
  }
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);  // a zombie now
  CHECK(start_ticks_of(child) != 0);
  CHECK(live_start_ticks_of(child) == 0);
  REQUIRE(::waitpid(child, nullptr, 0) == child);
}

TEST_CASE("our own run so far: started before now on the boot clock", "[run_time]") {
  const std::uint64_t started = ticks_to_ns(start_ticks_of(::getpid()));
  const std::uint64_t now = boot_time_ns();
  REQUIRE(started != 0);
  REQUIRE(now >= started);
  const auto ran = run_length(started, now);
  REQUIRE(ran);
  CHECK(*ran >= milliseconds(0));
  CHECK(*ran < milliseconds(24LL * 3600 * 1000 * 365));  // a unit test process
}

TEST_CASE("run_length: unknown start, end before start, whole milliseconds", "[run_time]") {
  CHECK_FALSE(run_length(0, 5'000'000'000ULL));
  CHECK(run_length(2'000'000'000ULL, 1'000'000'000ULL) == milliseconds(0));
  CHECK(run_length(1'000'000'000ULL, 1'040'900'000ULL) == milliseconds(40));
}

TEST_CASE("ticks_to_ns converts clock ticks at the kernel's rate", "[run_time]") {
  const long hz = ::sysconf(_SC_CLK_TCK);
  CHECK(ticks_to_ns(static_cast<std::uint64_t>(hz)) == 1'000'000'000ULL);
  CHECK(ticks_to_ns(0) == 0);
}
