// Memory events: the oom_kill count of a cgroup's memory.events text.
#include <catch2/catch.hpp>

#include "daemon/process/memory_events.hpp"

using namespace pmx::daemon;

TEST_CASE("oom_kill is read from memory.events, whatever its place among the other counters", "[memory_events]") {
  CHECK(oom_kill_count("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n") == 1);
  CHECK(oom_kill_count("oom_kill 42") == 42);
  CHECK(oom_kill_count("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n") == 0);
}

TEST_CASE("a memory.events without a readable oom_kill counts no OOM kill", "[memory_events]") {
  CHECK(oom_kill_count("") == 0);
  CHECK(oom_kill_count("oom 3\n") == 0);
  CHECK(oom_kill_count("oom_kill x\n") == 0);
  CHECK(oom_kill_count("oom_kill 99999999999999999999999\n") == 0);  // beyond 64 bits
  CHECK(oom_kill_count("oom_group_kill 5\n") == 0);
  CHECK(read_oom_kills("") == 0);
  CHECK(read_oom_kills("/nonexistent-pmx-cgroup") == 0);
}
