// `pmx update` replaces a running pmxd with the binary now installed. The daemon
// execs it with its own pid: the apps keep their pids and restart counters, a cluster app's
// port never closes, no numbered log line is lost or repeated, and exits are still known.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

json ping(const TempHome& home) {
  auto r = run_pmx(home.path(), {"ping"});
  INFO(r);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("pmx update execs the installed pmxd in place: same pids, port open, no log line lost",
          "[integration]") {
  REQUIRE(have_python());
  Session s;
  // "The binary now installed": a copy of pmxd (and its Node preload) in another folder.
  namespace fs = std::filesystem;
  const std::string installed = s.home.scratch("installed");
  fs::create_directories(installed);
  fs::copy_file(bin::kPmxd, installed + "/pmxd");
  const std::string preload = fs::path(bin::kPmxd).parent_path().string() + "/pmx-node-preload.js";
  if (fs::exists(preload)) fs::copy_file(preload, installed + "/pmx-node-preload.js");
  const std::string new_pmxd = fs::canonical(installed + "/pmxd").string();

  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "tick"}), 0);
  const int port = free_port();
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port)})), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  const std::string log = s.home.path() + "/logs/tick-out.log";
  REQUIRE(wait_until([&] { return ticks(log).size() >= 5; }, 10s));
  const json before = s.jlist();
  const json pong = ping(s.home);
  CHECK(pong.value("pid", 0) == s.daemon.pid());
  CHECK(pong.value("exe", "") == fs::canonical(bin::kPmxd).string());

  RunOptions with_new;
  with_new.env = {{"PMXD", new_pmxd}};
  auto updated = s.pmx({"update"}, with_new);
  REQUIRE_EXIT(updated, 0);
  CHECK(updated.out.find("now runs " + new_pmxd) != std::string::npos);

  const json after_pong = ping(s.home);
  CHECK(after_pong.value("pid", 0) == s.daemon.pid());
  CHECK(after_pong.value("exe", "") == new_pmxd);
  const json after = s.jlist();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    INFO(before[i].value("name", "") << ":" << before[i].value("pm_id", -1));
    CHECK(after[i].value("pid", 0) == before[i].value("pid", 0));
    CHECK(after[i]["pm2_env"].value("restart_time", -1) == before[i]["pm2_env"].value("restart_time", -2));
    CHECK(after[i]["pm2_env"].value("status", "") == "online");
  }
  CHECK_FALSE(port_is_free(port));
  CHECK(http_get(port));

  // Exits are still pmxd's to see, with their status: the instances are still its children.
  const pid_t quiet = s.app("quiet")["pid"].get<pid_t>();
  REQUIRE(::kill(quiet, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return s.app("quiet")["pm2_env"].value("restart_time", 0) == 1; }, 10s));
  CHECK(s.app("quiet")["pm2_env"].value("exit_signal", "") == "SIGKILL");

  const std::size_t seen = ticks(log).size();
  REQUIRE(wait_until([&] { return ticks(log).size() >= seen + 5; }, 10s));
  REQUIRE_EXIT(s.pmx({"stop", "tick"}), 0);
  const auto numbers = ticks(log);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    INFO("line " << i + 1 << " of " << log);
    REQUIRE(numbers[i] == static_cast<long>(i) + 1);
  }
}

TEST_CASE("pmx update refuses a binary that cannot run, and the daemon goes on", "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "quiet"}), 0);
  RunOptions missing;
  missing.env = {{"PMXD", s.home.scratch("no-such-pmxd")}};
  auto r = s.pmx({"update"}, missing);
  REQUIRE_EXIT(r, 2);
  CHECK(r.err.find("no-such-pmxd") != std::string::npos);
  CHECK(ping(s.home).value("pid", 0) == s.daemon.pid());
  CHECK(s.status("quiet") == "online");
}
