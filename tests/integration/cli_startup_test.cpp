// Regression tests for the CLI's start-up path: what the dynamic loader has to load,
// and that building only the verb given keeps every verb, alias, option and help text working.
#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using Catch::Matchers::Contains;

TEST_CASE("pmx and pmxd load no C++ shared library at start-up", "[integration]") {
  const std::string binary = GENERATE(bin::kPmx, bin::kPmxd);
  INFO(binary);
  RunOptions opts;
  opts.env = {{"LD_TRACE_LOADED_OBJECTS", "1"}};  // ld.so lists what it loads, as ldd does
  auto r = run_process({binary}, opts);
  REQUIRE_EXIT(r, 0);
  CHECK_THAT(r.out, Contains("libc.so"));
  if (sanitized()) {
    // The sanitizer build links ASan and the C++ runtime dynamically (ASan needs it); this also
    // proves the sanitizer pass really tests sanitized binaries.
    CHECK_THAT(r.out, Contains("libasan"));
    return;
  }
  CHECK_THAT(r.out, !Contains("libstdc++"));
  CHECK_THAT(r.out, !Contains("libgcc_s"));
  CHECK_THAT(r.out, !Contains("libyaml-cpp"));
}

TEST_CASE("help lists every verb and each verb's own options", "[integration]") {
  TempHome home;
  auto help = run_pmx(home.path(), {"--help"});
  REQUIRE_EXIT(help, 0);
  for (const char* verb : {"start", "stop", "restart", "reload", "startOrRestart", "startOrReload", "delete, del",
                           "ecosystem, init", "reset", "describe, desc, info, show", "list, ls, l, ps, status",
                           "jlist", "prettylist", "env", "pid", "id", "ping", "kill", "signal, sendSignal"}) {
    CHECK_THAT(help.out, Contains(verb));
  }
  CHECK_THAT(help.out, Contains("Exit codes:"));

  auto start = run_pmx(home.path(), {"start", "--help"});
  REQUIRE_EXIT(start, 0);
  for (const char* option : {"--max-memory-restart", "--cron-restart", "--merge-logs", "--only", "--no-autostart"}) {
    CHECK_THAT(start.out, Contains(option));
  }
  auto reload = run_pmx(home.path(), {"--no-color", "reload", "--help"});
  REQUIRE_EXIT(reload, 0);
  CHECK_THAT(reload.out, Contains("--update-env"));
  CHECK_THAT(reload.out, Contains("--env"));
  auto signal = run_pmx(home.path(), {"sendSignal", "--help"});
  REQUIRE_EXIT(signal, 0);
  CHECK_THAT(signal.out, Contains("signal name or number"));
}

TEST_CASE("usage errors still exit 2 when only the verb given is built", "[integration]") {
  TempHome home;
  CHECK_EXIT(run_pmx(home.path(), {}), 2);
  CHECK_EXIT(run_pmx(home.path(), {"bogus"}), 2);
  CHECK_EXIT(run_pmx(home.path(), {"--no-color", "--bogus", "ping"}), 2);
  CHECK_EXIT(run_pmx(home.path(), {"ping", "list"}), 2);
  CHECK_EXIT(run_pmx(home.path(), {"ping", "--max-restarts", "3"}), 2);  // start's option
  CHECK_EXIT(run_pmx(home.path(), {"stop"}), 2);                          // targets are required
  CHECK_EXIT(run_pmx(home.path(), {"--timeout", "ping"}), 2);             // "ping" is the timeout
  auto version = run_pmx(home.path(), {"-v"});
  CHECK_EXIT(version, 0);
  CHECK_THAT(version.out, Contains(PMX_VERSION));
}

TEST_CASE("aliases and global options around the verb reach the daemon", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sl"}), 0);
  REQUIRE(s.wait_pid("sl") > 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--timeout", "5s", "ls"}, {"status", "--timeout=5s"}, {"--no-color", "ps"}}) {
    auto r = s.pmx(args);
    CHECK_EXIT(r, 0);
    CHECK_THAT(r.out, Contains("sl"));
  }
  auto ping = s.pmx({"--no-color", "--timeout", "5s", "ping", "--no-color"});
  CHECK_EXIT(ping, 0);
  CHECK_THAT(ping.out, Contains("\"apps\":1"));
  CHECK_EXIT(s.pmx({"sendSignal", "SIGUSR2", "sl"}), 0);
  auto show = s.pmx({"show", "sl"});
  CHECK_EXIT(show, 0);
  CHECK_THAT(show.out, Contains("sl"));
  auto id = s.pmx({"id", "sl"});
  CHECK_EXIT(id, 0);
  CHECK(id.out == "[0]\n");
  CHECK_EXIT(s.pmx({"del", "sl"}), 0);
  CHECK_FALSE(s.find_app("sl").has_value());
}
