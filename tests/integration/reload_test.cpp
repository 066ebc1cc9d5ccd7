// Reload: a replacement whose exec fails is reported as the exec failure (in the reply and in
// pmx.log), not as the exit status 126/127 of the child that could not exec; the old runs serve on.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Where python3 is on PATH.
std::string reload_python_path() {
  std::string out = run_process({"/bin/sh", "-c", "command -v python3"}).out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("a reload whose new run cannot exec says why, in its reply and in pmx.log, and the old runs serve on",
          "[integration][reload][regression]") {
  Session s;
  const int port = free_port();
  const bool interpreter = GENERATE(false, true);
  INFO((interpreter ? "the interpreter" : "the program") << " replaced by a file that cannot be executed");
  std::vector<std::string> start;
  std::string broken;  // the path that will not exec
  if (interpreter) {
    REQUIRE(have_python());
    broken = s.home.scratch("python");
    REQUIRE(::symlink(reload_python_path().c_str(), broken.c_str()) == 0);
    start = fd3_web_start(s.home, {"--port", std::to_string(port), "--interpreter", broken, "--min-uptime", "300"});
  } else {
    broken = s.home.scratch("server");
    std::filesystem::copy_file(bin::kSleeper, broken);
    REQUIRE(::chmod(broken.c_str(), 0755) == 0);
    start = {"start", broken, "--name", "web", "-i", "2", "--port", std::to_string(port), "--kill-timeout", "500",
             "--min-uptime", "300"};
  }
  REQUIRE_EXIT(s.pmx(start), 0);
  const auto before = pids_of(s, "web");
  REQUIRE(before.size() == 2);
  // Python finds its library from the path it was started by: the link stays until both serve.
  if (interpreter) REQUIRE(answers_from([&] { return http_get(port); }, before).size() == 2);

  // The deploy leaves a file without the execute bit where the program (or interpreter) was.
  REQUIRE(::unlink(broken.c_str()) == 0);
  std::ofstream(broken) << "not a program\n";
  REQUIRE(::chmod(broken.c_str(), 0644) == 0);
  const RunResult r = s.pmx({"reload", "web"});
  CHECK_EXIT(r, 1);
  const std::string why = "cannot execute " + broken + ": Permission denied";
  CHECK(mentions(r.err, "reload of web (id 0) failed: " + why));
  CHECK_FALSE(mentions(r.err, "exited with code"));
  CHECK(mentions(read_file(s.home.daemon_log()).value_or(""), "reload: " + why));
  // No instance lost its run.
  CHECK(pids_of(s, "web") == before);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "online");
}
