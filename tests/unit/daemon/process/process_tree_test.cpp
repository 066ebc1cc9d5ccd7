// The process tree's /proc readers: a process's parent, a zombie's too.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "daemon/process/process_tree.hpp"

using namespace pmx::daemon;

TEST_CASE("parent_of names the parent of a live process and of a zombie, and 0 for a process gone",
          "[process_tree]") {
  CHECK(parent_of(::getpid()) == ::getppid());
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  // Ended and not reaped: a zombie, as an sd_notify sender its shell has not waited for yet.
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
  CHECK(parent_of(child) == ::getpid());
  REQUIRE(::waitpid(child, nullptr, 0) == child);
  CHECK(parent_of(child) == 0);
}
