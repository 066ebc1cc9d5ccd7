// PM2 drop-in (issue 7): what a PM2 user types in the first minute behaves as in PM2.
#include <unistd.h>

#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

bool have_node() { return run_process({"/bin/sh", "-c", "command -v node"}).exit_code == 0; }

}  // namespace

TEST_CASE("issue_7: pmx start app.js starts the script as an app; its code never runs in the CLI",
          "[integration][issue_7]") {
  REQUIRE(have_node());
  Session s;
  // An HTTP server that records every process that ran it: evaluated by the CLI as an ecosystem
  // file, it would record the CLI's node too, and keep the CLI from returning.
  const std::string marks = s.home.scratch("ran-by");
  const std::string app = s.home.scratch("app.js");
  std::ofstream(app) << "require('fs').appendFileSync(process.env.MARKS, process.pid + '\\n');\n"
                        "require('http').createServer((q, r) => r.end('ok')).listen(0);\n";
  RunOptions opts;
  opts.env = {{"MARKS", marks}};
  opts.timeout = 20s;
  REQUIRE_EXIT(s.pmx({"start", app}, opts), 0);
  const pid_t pid = s.wait_pid("app");
  REQUIRE(pid > 0);
  CHECK(s.wait_status("app", "online"));
  REQUIRE(wait_until([&] { return !read_lines(marks).empty(); }, 10s));
  CHECK(read_lines(marks) == std::vector<std::string>{std::to_string(pid)});
  CHECK(s.app("app")["pm2_env"].value("exec_interpreter", "") == "node");
}

TEST_CASE("issue_7: an ecosystem.config.mjs (an ES module) loads its default export",
          "[integration][issue_7]") {
  REQUIRE(have_node());
  Session s;
  const std::string file = s.home.scratch("ecosystem.config.mjs");
  std::ofstream(file) << "export default { apps: [{ name: 'esm', script: '" << bin::kSleeper
                      << "', kill_timeout: 500 }] };\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.wait_status("esm", "online"));
}
