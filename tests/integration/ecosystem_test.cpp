// Ecosystem files end to end: each format starts its apps, --only, --env, broken files start
// nothing, startOrRestart, start - from stdin.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <utility>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

std::string write(const Session& s, const std::string& name, const std::string& text) {
  std::string path = s.home.scratch(name);
  std::ofstream(path) << text;
  return path;
}

std::string two_apps_yaml() {
  return "apps:\n"
         "  - name: one\n    script: " + bin::kSleeper + "\n    kill_timeout: 500\n"
         "    env:\n      MODE: base\n    env_production:\n      MODE: prod\n"
         "  - name: two\n    script: " + bin::kSleeper + "\n    kill_timeout: 500\n    args: [x]\n";
}

}  // namespace

TEST_CASE("a YAML ecosystem file starts every app, --env merges env_<name>", "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "eco.yaml", two_apps_yaml());
  REQUIRE_EXIT(s.pmx({"start", file, "--env", "production"}), 0);
  CHECK(s.wait_status("one", "online"));
  CHECK(s.wait_status("two", "online"));
  CHECK(s.app("one")["pm2_env"]["env"].value("MODE", "") == "prod");
}

TEST_CASE("a JSON ecosystem file with --only starts just those apps", "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "eco.json",
                           "{\"apps\": [{\"name\": \"one\", \"script\": \"" + bin::kSleeper +
                               "\"}, {\"name\": \"two\", \"script\": \"" + bin::kSleeper + "\", \"args\": \"x\"}]}");
  REQUIRE_EXIT(s.pmx({"start", file, "--only", "two"}), 0);
  CHECK(s.wait_status("two", "online"));
  CHECK_FALSE(s.find_app("one").has_value());
}

TEST_CASE("a broken ecosystem file starts nothing and names file:line", "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "bad.yaml",
                           "apps:\n  - name: good\n    script: " + bin::kSleeper +
                               "\n  - name: bad\n    script: " + bin::kSleeper + "\n    instances: many\n");
  auto r = s.pmx({"start", file});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("bad.yaml:6:5") != std::string::npos);
  CHECK(r.err.find("instances") != std::string::npos);
  CHECK(s.jlist().empty());
}

TEST_CASE("startOrRestart twice counts one restart per app", "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "eco.yaml", two_apps_yaml());
  REQUIRE_EXIT(s.pmx({"startOrRestart", file}), 0);
  REQUIRE(s.wait_status("one", "online"));
  CHECK(s.app("one")["pm2_env"].value("restart_time", -1) == 0);
  REQUIRE_EXIT(s.pmx({"startOrRestart", file}), 0);
  REQUIRE(s.wait_status("one", "online"));
  CHECK(s.app("one")["pm2_env"].value("restart_time", -1) == 1);
  CHECK(s.app("two")["pm2_env"].value("restart_time", -1) == 1);
  REQUIRE_EXIT(s.pmx({"delete", file}), 0);
  CHECK(s.jlist().empty());
}

TEST_CASE("start - reads the apps as JSON from stdin", "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "apps.json", "[{\"name\": \"piped\", \"script\": \"" + bin::kSleeper + "\"}]");
  RunOptions opts;
  opts.env = {{"PMX_HOME", s.home.path()}, {"PMXD", bin::kPmxd}};
  auto r = run_process({"/bin/sh", "-c", "exec \"$0\" start - < \"$1\"", bin::kPmx, file}, opts);
  INFO(r);
  CHECK(r.exit_code == 0);
  CHECK(s.wait_status("piped", "online"));
}

TEST_CASE("an ecosystem.config.js is evaluated with node", "[integration][ecosystem]") {
  Session s;
  // The CLI runs node itself; without node this format cannot work at all.
  REQUIRE(run_process({"/bin/sh", "-c", "command -v node"}).exit_code == 0);
  std::string file = write(s, "ecosystem.config.js",
                           "const base = { kill_timeout: 500 };\n"
                           "module.exports = { apps: [Object.assign({ name: 'fromjs', script: '" +
                               bin::kSleeper + "' }, base)] };\n");
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.wait_status("fromjs", "online"));
  CHECK(s.app("fromjs")["pm2_env"].value("kill_timeout", 0) == 500);

  std::string broken = write(s, "broken.config.js", "module.exports = { apps: [ { name: 'x', } \n");
  auto r = s.pmx({"start", broken});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("broken.config.js") != std::string::npos);
}

TEST_CASE("uid runs the app as that user, with its HOME", "[integration][ecosystem]") {
  REQUIRE(geteuid() == 0);  // CI runs as root
  const passwd* nobody = getpwnam("nobody");
  REQUIRE(nobody);
  SharedFolder shared;  // nobody cannot reach the build tree when it is in a private folder
  const std::string sleeper = shared.executable_for(bin::kSleeper, nobody->pw_uid, nobody->pw_gid);
  if (sleeper.empty()) return;
  Session s;
  std::string file = write(s, "u.yaml", "apps:\n  - name: asnobody\n    script: " + sleeper +
                                            "\n    uid: nobody\n    cwd: /tmp\n    kill_timeout: 500\n");
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  pid_t pid = s.wait_pid("asnobody");
  REQUIRE(pid > 0);
  auto status = read_file("/proc/" + std::to_string(pid) + "/status").value_or("");
  CHECK(status.find("Uid:\t65534\t65534\t65534\t65534") != std::string::npos);
  auto environ = read_file("/proc/" + std::to_string(pid) + "/environ").value_or("");
  CHECK(environ.find(std::string("HOME=/nonexistent") + '\0') != std::string::npos);

  std::string bad = write(s, "bad.yaml", "apps:\n  - name: ghost\n    script: " + bin::kSleeper +
                                             "\n    args: [x]\n    uid: no-such-user-here\n");
  auto r = s.pmx({"start", bad});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("no-such-user-here") != std::string::npos);
  CHECK_FALSE(s.find_app("ghost").has_value());
}

TEST_CASE("log option flags: accepted without an 'unsupported' warning, bad values refused by the CLI",
          "[integration][ecosystem]") {
  Session s;
  auto r = s.pmx({"start", bin::kSleeper, "--name", "logopts", "--time", "--log-type", "json", "--log-date-format",
                  "YYYY-MM-DD HH:mm:ss.SSS Z", "--log-max-size", "1M", "--log-retain", "3", "--log-compress",
                  "--log-rotate-interval", "0 0 * * *"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("not yet supported") == std::string::npos);
  CHECK(s.wait_status("logopts", "online"));
  const std::pair<std::vector<std::string>, std::string> bad[] = {
      {{"--log-rotate-interval", "1h"}, "log_rotate_interval"},   // a cron expression now, not a duration
      {{"--log-date-format", "[at HH:mm"}, "log_date_format"},    // unterminated '['
      {{"--log-retain", "-1"}, "log_retain"},
      {{"--log-max-size", "huge"}, "log_max_size"},
      {{"--log-type", "xml"}, "log_type"},
  };
  for (const auto& [flags, option] : bad) {
    std::vector<std::string> args = {"start", bin::kSleeper, "--name", "badlog"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto refused = s.pmx(args);
    INFO(flags.front() << ": " << refused.err);
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find(option) != std::string::npos);
  }
  CHECK_FALSE(s.find_app("badlog").has_value());
}

TEST_CASE("option flags on the command line: --port, --merge-logs, --filter-env, --no-autostart, --watch",
          "[integration][ecosystem]") {
  Session s;
  RunOptions opts;
  opts.env = {{"PMXTEST_SECRET", "x"}, {"PMXTEST_KEEP", "y"}};
  const std::string quiet_dir = s.home.scratch("quiet");  // nothing changes here: no watch restart
  REQUIRE(::mkdir(quiet_dir.c_str(), 0755) == 0);
  auto r = s.pmx({"start", bin::kSleeper, "--name", "flags", "-i", "2", "--port", "4000", "--merge-logs",
                  "--filter-env", "PMXTEST_S", "--watch", "--cwd", quiet_dir, "--kill-timeout", "500"},
                 opts);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("not yet supported") == std::string::npos);  // watch works
  REQUIRE(s.wait_status("flags", "online"));
  for (const auto& app : s.jlist()) {
    const auto& env = app["pm2_env"]["env"];
    CHECK(env.value("PORT", "") == "4000");
    CHECK_FALSE(env.contains("PMXTEST_SECRET"));
    CHECK(env.value("PMXTEST_KEEP", "") == "y");
    CHECK(app["pm2_env"].value("pm_out_log_path", "").ends_with("/flags-out.log"));  // merged: no -<id>
  }
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "later", "-f", "--no-autostart"}), 0);
  CHECK(s.status("later") == "stopped");
  CHECK(s.app("later")["pid"] == 0);
}

TEST_CASE("instances: N fork processes, NODE_APP_INSTANCE 0..N-1, targeted together by name",
          "[integration][ecosystem]") {
  Session s;
  std::string file = write(s, "web.yaml", "apps:\n  - name: web\n    script: " + bin::kSleeper +
                                              "\n    instances: 3\n    kill_timeout: 500\n");
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  json apps = s.jlist();
  REQUIRE(apps.size() == 3);
  std::set<int> ids, indexes;
  std::set<pid_t> pids;
  for (const auto& app : apps) {
    CHECK(app.value("name", "") == "web");
    CHECK(app["pm2_env"].value("status", "") == "online");
    ids.insert(app.value("pm_id", -1));
    indexes.insert(std::stoi(app["pm2_env"]["env"].value("NODE_APP_INSTANCE", "-1")));
    pids.insert(app.value("pid", 0));
  }
  CHECK(ids.size() == 3);
  CHECK(indexes == std::set<int>{0, 1, 2});
  CHECK(pids.size() == 3);
  REQUIRE_EXIT(s.pmx({"stop", "web"}), 0);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "stopped");
  for (pid_t pid : pids) CHECK_FALSE(process_alive(pid));
}
