// pmx report: one paste for a bug report, from a real pmxd with an app that failed.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

TEST_CASE("report prints versions, the machine, pmxd's figures and each app's last exit and error lines",
          "[integration][report]") {
  Session s;
  const std::string script = s.home.scratch("fails.sh");
  std::ofstream(script) << "#!/bin/sh\necho 'boom: the database is gone' >&2\nexit 3\n";
  ::chmod(script.c_str(), 0755);
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "fails", "--no-autorestart"}), 0);
  REQUIRE(s.wait_status("fails", "stopped"));
  const std::string err = s.app("fails").at("pm2_env").at("pm_err_log_path");
  REQUIRE(wait_until([&] { return mentions(read_file(err).value_or(""), "boom"); }, 10s));

  const RunResult report = s.pmx({"report"});
  INFO(report);
  CHECK(report.exit_code == 0);
  for (const std::string& part : {std::string("===== pmx report ====="), std::string("pmx         0."),
                                  std::string("(commit "), std::string("kernel      Linux "), std::string("cgroup      "),
                                  std::string("PMX_HOME    ") + s.home.path(), std::string(" open fds"),
                                  std::string("===== apps (1) ====="), std::string("fails (id 0, namespace default"),
                                  std::string("status stopped"), std::string("last exit: code 3"),
                                  std::string("    | boom: the database is gone")}) {
    INFO(part);
    CHECK(mentions(report.out, part));
  }
  CHECK(mentions(report.out, "pid " + std::to_string(s.daemon.pid())));
}
