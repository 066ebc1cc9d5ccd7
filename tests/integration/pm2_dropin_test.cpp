// PM2 drop-in: what a PM2 user types in the first minute behaves as in PM2.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {


}  // namespace

TEST_CASE("pmx start app.js starts the script as an app, its code never runs in the CLI",
          "[integration]") {
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

TEST_CASE("an ecosystem.config.mjs (an ES module) loads its default export",
          "[integration]") {
  REQUIRE(have_node());
  Session s;
  const std::string file = s.home.scratch("ecosystem.config.mjs");
  std::ofstream(file) << "export default { apps: [{ name: 'esm', script: '" << bin::kSleeper
                      << "', kill_timeout: 500 }] };\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.wait_status("esm", "online"));
}

TEST_CASE("a command string runs as its program and arguments, or with sh when it needs a shell",
          "[integration]") {
  Session s;
  const std::string dump = s.home.scratch("env");
  // No such file, and spaces: the program and its arguments, named after the command as PM2
  // names it, each path cut to its last part.
  REQUIRE_EXIT(s.pmx({"start", bin::kEnvDump + " " + dump, "--kill-timeout", "500"}), 0);
  CHECK(s.wait_status("fixture_env_dump env", "online"));
  const json plain = s.app("fixture_env_dump env")["pm2_env"];
  CHECK(plain.value("pm_exec_path", "") == bin::kEnvDump);
  CHECK(plain["args"] == json::array({dump}));
  CHECK(plain.value("exec_interpreter", "") == "none");
  // NAME=value in front needs a shell: /bin/sh -c runs the line, and the variable is set.
  const std::string dump2 = s.home.scratch("env2");
  REQUIRE_EXIT(s.pmx({"start", "GREETING='hello there' " + bin::kEnvDump + " " + dump2, "--name", "shelled",
                      "--kill-timeout", "500"}),
               0);
  CHECK(s.wait_status("shelled", "online"));
  CHECK(s.app("shelled")["pm2_env"].value("pm_exec_path", "") == "/bin/sh");
  REQUIRE(wait_until([&] { return read_env_dump(dump2).count("GREETING") == 1; }, 10s));
  CHECK(read_env_dump(dump2).at("GREETING") == "hello there");
  // A missing program is still a clear error.
  const RunResult missing = s.pmx({"start", "no-such-program-xyz --port 1"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("no-such-program-xyz") != std::string::npos);
}

TEST_CASE("npm run start and npm start in two projects are two apps, named after their commands as PM2 names them",
          "[integration][node][regression]") {
  REQUIRE(have_node());
  if (run_process({"/bin/sh", "-c", "command -v npm"}).exit_code != 0) {
    WARN("npm is not installed: skipped");
    return;
  }
  Session s;
  std::vector<std::string> marks;
  for (const char* project : {"shop", "blog"}) {
    const std::string dir = s.home.scratch(project);
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    marks.push_back(dir + "/ran");
    std::ofstream(dir + "/server.js") << "require('fs').writeFileSync(__dirname + '/ran', process.cwd());\n"
                                         "setInterval(() => {}, 1000);\n";
    std::ofstream(dir + "/package.json") << R"({"name":")" << project
                                         << R"(","version":"1.0.0","scripts":{"start":"node server.js"}})";
  }
  REQUIRE_EXIT(s.pmx({"start", "npm run start", "--cwd", s.home.scratch("shop")}), 0);
  REQUIRE_EXIT(s.pmx({"start", "npm start", "--cwd", s.home.scratch("blog")}), 0);
  CHECK(s.wait_status("npm run start", "online"));
  CHECK(s.wait_status("npm start", "online"));
  for (const auto& mark : marks) CHECK(wait_until([&] { return file_exists(mark); }, 20s));
  // The same command again in the same project is the app already running, as before.
  const RunResult again = s.pmx({"start", "npm start", "--cwd", s.home.scratch("blog")});
  CHECK(again.exit_code != 0);
  CHECK(again.err.find("already launched") != std::string::npos);
}

TEST_CASE("an ecosystem file whose script is a command string starts it, and the file's other apps with it",
          "[integration][node][regression]") {
  REQUIRE(have_node());
  Session s;
  const std::string dir = s.home.scratch("proj");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  std::ofstream(dir + "/server.js") << "require('fs').writeFileSync(__dirname + '/ran', process.argv.slice(2).join(' '));\n"
                                       "setInterval(() => {}, 1000);\n";
  std::ofstream(dir + "/ecosystem.config.js")
      << "module.exports = { apps: [\n"
         "  { name: 'api', script: 'node server.js --port 3000' },\n"
         "  { name: 'tick', script: 'node', args: '-e setInterval(()=>{},1000)' },\n"
         "] };\n";
  REQUIRE_EXIT(s.pmx({"start", dir + "/ecosystem.config.js"}), 0);
  CHECK(s.wait_status("api", "online"));
  CHECK(s.wait_status("tick", "online"));
  REQUIRE(wait_until([&] { return file_exists(dir + "/ran"); }, 20s));
  REQUIRE(wait_until([&] { return read_file(dir + "/ran").value_or("") == "--port 3000"; }, 10s));
}

TEST_CASE("jlist carries the options PM2 writes in pm2_env: watch false, not absent", "[integration][regression]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "plain"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "stamped", "--time", "--cron-restart", "0 3 * * *"}), 0);
  const json plain = s.app("plain")["pm2_env"];
  CHECK(plain["watch"] == false);
  CHECK(plain["ignore_watch"] == json::array());
  CHECK(plain["wait_ready"] == false);
  CHECK(plain["time"] == false);
  CHECK(plain["cron_restart"].is_null());
  CHECK(plain.value("listen_timeout", 0) == 3000);
  const json stamped = s.app("stamped")["pm2_env"];
  CHECK(stamped["time"] == true);
  CHECK(stamped["cron_restart"] == "0 3 * * *");
}

TEST_CASE("an express-style bin/www (no extension, no exec bit) runs with node",
          "[integration]") {
  REQUIRE(have_node());
  Session s;
  const std::string dir = s.home.scratch("site");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/bin").c_str(), 0755) == 0);
  const std::string marks = dir + "/ran";
  std::ofstream(dir + "/bin/www") << "var fs = require('fs');\n"
                                     "fs.appendFileSync(process.env.MARKS, process.pid + '\\n');\n"
                                     "setInterval(function () {}, 1000);\n";
  ::chmod((dir + "/bin/www").c_str(), 0644);
  RunOptions opts;
  opts.env = {{"MARKS", marks}};
  REQUIRE_EXIT(s.pmx({"start", dir + "/bin/www"}, opts), 0);
  const pid_t pid = s.wait_pid("www");
  REQUIRE(pid > 0);
  CHECK(s.app("www")["pm2_env"].value("exec_interpreter", "") == "node");
  REQUIRE(wait_until([&] { return !read_lines(marks).empty(); }, 10s));
  CHECK(read_lines(marks) == std::vector<std::string>{std::to_string(pid)});
}

TEST_CASE("a process.json with comments and a bare app object start", "[integration]") {
  Session s;
  const std::string file = s.home.scratch("process.json");
  std::ofstream(file) << "// deployed by hand\n{\n  /* one app, no apps: [] around it */\n"
                         "  \"name\": \"\",\n  \"script\": \"" << bin::kSleeper << "\", // PM2 names it\n"
                         "  \"kill_timeout\": 500\n}\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.wait_status("fixture_sleeper", "online"));
}

TEST_CASE("an unknown verb is named, with the closest verbs or as a PM2 verb to come",
          "[integration]") {
  TempHome home;
  const RunResult typo = run_pmx(home.path(), {"restat", "api"});
  CHECK_EXIT(typo, 2);
  CHECK(typo.err.find("unknown command 'restat'") != std::string::npos);
  CHECK(typo.err.find("'restart'") != std::string::npos);
  const RunResult pm2_verb = run_pmx(home.path(), {"--timeout", "2s", "inspect", "api"});
  CHECK_EXIT(pm2_verb, 2);
  CHECK(pm2_verb.err.find("unknown command 'inspect': PM2 has it") != std::string::npos);
  // pm2-logrotate: rotation is built in, and the user is told where its settings go.
  const RunResult logrotate = run_pmx(home.path(), {"install", "pm2-logrotate"});
  CHECK_EXIT(logrotate, 0);
  CHECK(logrotate.out.find("log rotation is built in") != std::string::npos);
  CHECK(logrotate.out.find("pmx.yaml") != std::string::npos);
  const RunResult set = run_pmx(home.path(), {"set", "pm2-logrotate:max_size", "10M"});
  CHECK_EXIT(set, 2);
  CHECK(set.err.find("log rotation is built in") != std::string::npos);
  const RunResult module = run_pmx(home.path(), {"install", "pm2-server-monit"});
  CHECK_EXIT(module, 2);
  CHECK(module.err.find("unknown command 'install': PM2 has it") != std::string::npos);
  const RunResult help = run_pmx(home.path(), {"help"});
  CHECK_EXIT(help, 0);
  CHECK(help.out.find("restart") != std::string::npos);
  // None of these needed the daemon.
  CHECK_FALSE(file_exists(home.path() + "/pmxd.pid"));
}

TEST_CASE("jlist's pm2_env carries the app's env keys at its top level, its own fields kept",
          "[integration]") {
  Session s;
  const std::string file = s.home.scratch("eco.yaml");
  std::ofstream(file) << "apps:\n  - name: web\n    script: " << bin::kSleeper << "\n    kill_timeout: 500\n"
                      << "    env:\n      NODE_ENV: production\n      status: not-the-status\n"
                      << "      QUOTED: 'a \"b\" \\\\ c'\n      env: not-the-env\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  REQUIRE(s.wait_status("web", "online"));
  const json env = s.app("web")["pm2_env"];
  CHECK(env.value("NODE_ENV", "") == "production");
  CHECK(env.value("QUOTED", "") == "a \"b\" \\\\ c");  // single quotes in YAML: \\ stays two
  CHECK(env.value("QUOTED", "") == env["env"].value("QUOTED", "?"));
  CHECK(env["env"].value("NODE_ENV", "") == "production");
  // pm2_env's own fields win over env keys of the same name.
  CHECK(env.value("status", "") == "online");
  CHECK(env["env"].is_object());
  CHECK(env["pm_id"].is_number());
  // The raw text has no key twice: every JSON reader gets the same values.
  const std::string raw = s.pmx({"jlist"}).out;
  CHECK(raw.find("\"status\":\"not-the-status\"") == std::string::npos);
}

TEST_CASE("a pid_file gives each instance its own file, named as PM2 names it",
          "[integration]") {
  Session s;
  const std::string dir = s.home.scratch("pids");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "many", "-i", "2", "--pid", dir + "/many.pid",
                      "--kill-timeout", "500"}),
               0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "bare", "-i", "2", "--pid", dir + "/bare",
                      "--kill-timeout", "500"}),
               0);
  for (const json& app : s.jlist()) {
    const int id = app["pm_id"].get<int>();
    const std::string name = app["name"].get<std::string>();
    const std::string expected = dir + "/" + name + (name == "many" ? "-" + std::to_string(id) + ".pid"
                                                                     : "-" + std::to_string(id));
    CHECK(app["pm2_env"].value("pm_pid_path", "") == expected);
    const pid_t pid = s.wait_pid(name);
    REQUIRE(pid > 0);
    // Each file holds its own instance's pid.
    CHECK(wait_until([&] {
      const json now = s.jlist();
      for (const json& a : now) {
        if (a["pm_id"] == id) return std::atoi(read_file(expected).value_or("0").c_str()) == a["pid"].get<int>();
      }
      return false;
    }, 5s));
  }
}

TEST_CASE("duplicates as PM2 decides them: another name is a new app, the same one is "
          "refused while running and started again when stopped",
          "[integration]") {
  Session s;
  const std::vector<std::string> quick{"--kill-timeout", "500"};
  auto start = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "start");
    args.insert(args.end(), quick.begin(), quick.end());
    return s.pmx(args);
  };
  REQUIRE_EXIT(start({bin::kSleeper, "--name", "a"}), 0);
  REQUIRE_EXIT(start({bin::kSleeper, "--name", "b"}), 0);  // same script, another name
  CHECK(s.jlist().size() == 2);
  const RunResult again = start({bin::kSleeper, "--name", "a"});
  CHECK(again.exit_code != 0);
  CHECK(again.err.find("already launched as 'a'") != std::string::npos);
  const RunResult other = start({bin::kExitAfter, "--name", "a"});
  CHECK(other.exit_code != 0);
  CHECK(other.err.find("an app named 'a' already runs") != std::string::npos);
  CHECK(s.jlist().size() == 2);

  REQUIRE_EXIT(s.pmx({"stop", "a"}), 0);
  const int id = s.app("a")["pm_id"].get<int>();
  REQUIRE_EXIT(start({bin::kSleeper, "--name", "a"}), 0);  // stopped: started again, not a new app
  CHECK(s.wait_status("a", "online"));
  CHECK(s.jlist().size() == 2);
  CHECK(s.app("a")["pm_id"].get<int>() == id);
  // -f still starts another copy under the same name.
  REQUIRE_EXIT(start({bin::kSleeper, "--name", "a", "-f"}), 0);
  CHECK(s.jlist().size() == 3);
}

TEST_CASE("pmx start <ecosystem file> again restarts the apps already running",
          "[integration]") {
  Session s;
  const std::string file = s.home.scratch("eco.yaml");
  std::ofstream(file) << "apps:\n  - name: api\n    script: " << bin::kSleeper << "\n    kill_timeout: 500\n"
                      << "  - name: worker\n    script: " << bin::kSleeper << "\n    kill_timeout: 500\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  const pid_t api = s.wait_pid("api");
  const pid_t worker = s.wait_pid("worker");
  REQUIRE(api > 0);
  REQUIRE(worker > 0);
  // The deploy: git pull && pmx start ecosystem file.
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.jlist().size() == 2);
  for (const auto& [name, old_pid] : {std::pair{"api", api}, std::pair{"worker", worker}}) {
    const json app = s.app(name);
    CHECK(app["pm2_env"]["restart_time"] == 1);
    CHECK(app["pid"].get<int>() != old_pid);
    CHECK(app["pm2_env"]["status"] == "online");
  }
  // With --update-env the file's env is read again.
  std::ofstream(file) << "apps:\n  - name: api\n    script: " << bin::kSleeper << "\n    kill_timeout: 500\n"
                      << "    env:\n      RELEASE: v2\n";
  REQUIRE_EXIT(s.pmx({"start", file, "--only", "api"}), 0);
  CHECK_FALSE(s.app("api")["pm2_env"]["env"].contains("RELEASE"));
  REQUIRE_EXIT(s.pmx({"start", file, "--only", "api", "--update-env"}), 0);
  CHECK(s.app("api")["pm2_env"]["env"].value("RELEASE", "") == "v2");
}

TEST_CASE("restart of an app that ends errored exits non-zero with the reason",
          "[integration]") {
  Session s;
  const std::string dir = s.home.scratch("gone");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "mover", "--cwd", dir, "--kill-timeout", "500",
                      "--max-restarts", "2", "--restart-delay", "0"}),
               0);
  REQUIRE(s.wait_pid("mover") > 0);
  REQUIRE(::rmdir(dir.c_str()) == 0);  // its cwd is gone: every exec now fails
  const RunResult r = s.pmx({"restart", "mover"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("mover") != std::string::npos);
  CHECK(r.err.find("errored") != std::string::npos);
  INFO(r);
  CHECK(r.err.find(dir) != std::string::npos);
  CHECK(s.status("mover") == "errored");
}

TEST_CASE("a script path is a target: stop, restart and delete act on the apps running it",
          "[integration]") {
  Session s;
  const std::string dir = s.home.scratch("proj");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  const std::string script = dir + "/worker";
  REQUIRE(::symlink(bin::kSleeper.c_str(), script.c_str()) == 0);
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "w1", "--kill-timeout", "500"}), 0);
  REQUIRE_EXIT(s.pmx({"start", dir + "/./worker", "--name", "w2", "--kill-timeout", "500"}), 0);
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "other", "--kill-timeout", "500"}), 0);
  // Relative to the caller's directory, as typed in the project folder.
  const RunResult stop = run_process({"/bin/sh", "-c", "cd '" + dir + "' && exec \"$0\" stop worker", bin::kPmx},
                                     [&] {
                                       RunOptions o;
                                       o.env = {{"PMX_HOME", s.home.path()}, {"PMXD", bin::kPmxd}};
                                       return o;
                                     }());
  CHECK_EXIT(stop, 0);
  CHECK(s.status("w1") == "stopped");
  CHECK(s.status("w2") == "stopped");
  CHECK(s.status("other") == "online");
  REQUIRE_EXIT(s.pmx({"restart", script}), 0);
  CHECK(s.wait_status("w1", "online"));
  CHECK(s.wait_status("w2", "online"));
  REQUIRE_EXIT(s.pmx({"delete", script}), 0);
  CHECK(s.jlist().size() == 1);
  const RunResult none = s.pmx({"stop", dir + "/nothing.js"});
  CHECK_EXIT(none, 1);
  CHECK(none.err.find("no app matches") != std::string::npos);
}

TEST_CASE("missing folders of log and pid files are created, a log file that cannot be "
          "opened is reported at start",
          "[integration]") {
  Session s;
  const std::string dir = s.home.scratch("app");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  const std::string file = dir + "/ecosystem.json";
  std::ofstream(file) << "{\"apps\": [{\"name\": \"web\", \"script\": \"" << bin::kLinegen
                      << "\", \"args\": [\"3\", \"0\"], \"autorestart\": false,"
                         " \"out_file\": \"./logs/out.log\", \"error_file\": \"./logs/deep/err.log\","
                         " \"pid_file\": \"./run/web.pid\"}]}";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(wait_until([&] { return read_lines(dir + "/logs/out.log").size() >= 3; }, 10s));
  CHECK(file_exists(dir + "/logs/deep/err.log"));
  CHECK(wait_until([&] { return file_exists(dir + "/run/web-0.pid"); }, 5s));

  // A path under a regular file can never be opened: the start says so, the app still runs.
  const std::string blocker = s.home.scratch("not-a-dir");
  std::ofstream(blocker) << "x";
  const RunResult r = s.pmx({"start", bin::kSleeper, "--name", "blind", "-o", blocker + "/out.log",
                             "--kill-timeout", "500"});
  CHECK_EXIT(r, 0);
  CHECK(r.err.find("cannot write its log file " + blocker + "/out.log") != std::string::npos);
  CHECK(s.wait_status("blind", "online"));
  CHECK(s.app("blind")["pm2_env"]["log_error"].is_string());
  CHECK(wait_until([&] {
    for (const auto& line : read_lines(s.home.path() + "/pmx.log")) {
      if (line.find("log file " + blocker + "/out.log") != std::string::npos) return true;
    }
    return false;
  }, 5s));
}

TEST_CASE("cron_restart restarts on its schedule, a bad pattern starts nothing",
          "[integration]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "cronned", "--cron-restart", "*/2 * * * * *",
                      "--kill-timeout", "500"}),
               0);
  // Every 2 s: three restarts take about 6 s.
  CHECK(wait_until([&] { return s.app("cronned")["pm2_env"]["restart_time"].get<int>() >= 3; }, 15s));
  CHECK(s.wait_status("cronned", "online"));
  CHECK(wait_until([&] {
    for (const auto& line : read_lines(s.home.path() + "/pmx.log")) {
      if (line.find("cron_restart '*/2 * * * * *': restarting") != std::string::npos) return true;
    }
    return false;
  }, 5s));

  const std::string file = s.home.scratch("eco.yaml");
  std::ofstream(file) << "apps:\n  - name: ok\n    script: " << bin::kSleeper << "\n"
                      << "  - name: nightly\n    script: " << bin::kSleeper << "\n    cron_restart: '0 25 * * *'\n";
  const RunResult bad = s.pmx({"start", file});
  CHECK_EXIT(bad, 2);
  CHECK(bad.err.find("eco.yaml:6:") != std::string::npos);
  CHECK(bad.err.find("hours field '25'") != std::string::npos);
  CHECK_FALSE(s.find_app("ok").has_value());
}

TEST_CASE("watch restarts once per burst of changes, never for pmx's own files, and "
          "restart --watch turns it off",
          "[integration]") {
  Session s;
  const std::string dir = s.home.scratch("watched");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/src").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/node_modules").c_str(), 0755) == 0);
  // The app writes a line every 20 ms into a log file inside the watched folder.
  REQUIRE_EXIT(s.pmx({"start", bin::kTicker, "--name", "w", "--cwd", dir, "--watch", "--watch-delay", "200",
                      "-o", "./out.log", "--kill-timeout", "500", "--", "20"}),
               0);
  REQUIRE(s.wait_status("w", "online"));
  auto restarts = [&] { return s.app("w")["pm2_env"]["restart_time"].get<int>(); };
  REQUIRE(wait_until([&] { return read_lines(dir + "/out.log").size() > 20; }, 10s));
  CHECK_FALSE(wait_until([&] { return restarts() > 0; }, 1500ms));  // its own log: no restart

  std::ofstream(dir + "/src/app.js") << "changed\n";
  CHECK(wait_until([&] { return restarts() == 1; }, 10s));
  CHECK_FALSE(wait_until([&] { return restarts() > 1; }, 1s));

  for (int i = 0; i < 50; ++i) std::ofstream(dir + "/src/burst.txt", std::ios::app) << i << "\n";
  CHECK(wait_until([&] { return restarts() == 2; }, 10s));
  CHECK_FALSE(wait_until([&] { return restarts() > 2; }, 1s));

  std::ofstream(dir + "/node_modules/dep.js") << "ignored\n";
  CHECK_FALSE(wait_until([&] { return restarts() > 2; }, 1s));

  REQUIRE_EXIT(s.pmx({"restart", "w", "--watch"}), 0);  // restarts, and stops watching
  CHECK(restarts() == 3);
  std::ofstream(dir + "/src/app.js") << "changed again\n";
  CHECK_FALSE(wait_until([&] { return restarts() > 3; }, 1s));
}

TEST_CASE("ecosystem files shaped like committed ones: a .config.js with env_* blocks and "
          "./logs paths, a YAML file with cluster and env_production",
          "[integration]") {
  REQUIRE(have_node());
  Session s;
  const std::string dir = s.home.scratch("svc");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  std::ofstream(dir + "/ecosystem.config.js")
      << "const base = { kill_timeout: 500, out_file: './logs/api-out.log', error_file: './logs/api-err.log' };\n"
         "module.exports = {\n"
         "  apps: [{\n"
         "    ...base,\n"
         "    name: 'api',\n"
         "    script: '" << bin::kEnvDump << "',\n"
         "    args: ['" << dir << "/api.env'],\n"
         "    env: { NODE_ENV: 'development', PORT: 3000 },\n"
         "    env_staging: { NODE_ENV: 'staging' },\n"
         "    env_production: { NODE_ENV: 'production', PORT: 80 },\n"
         "  }],\n"
         "};\n";
  REQUIRE_EXIT(s.pmx({"start", dir + "/ecosystem.config.js", "--env", "production"}), 0);
  REQUIRE(wait_until([&] { return read_env_dump(dir + "/api.env").count("NODE_ENV") == 1; }, 10s));
  const auto env = read_env_dump(dir + "/api.env");
  CHECK(env.at("NODE_ENV") == "production");
  CHECK(env.at("PORT") == "80");
  CHECK(s.app("api")["pm2_env"].value("pm_out_log_path", "") == dir + "/logs/api-out.log");
  CHECK(file_exists(dir + "/logs/api-out.log"));

  std::ofstream(dir + "/process.yml") << "apps:\n"
                                         "  - name: web\n"
                                         "    script: " << bin::kSleeper << "\n"
                                         "    exec_mode: cluster\n"
                                         "    instances: 2\n"
                                         "    kill_timeout: 500\n"
                                         "    env:\n      NODE_ENV: development\n"
                                         "    env_production:\n      NODE_ENV: production\n";
  const RunResult yml = s.pmx({"start", dir + "/process.yml", "--env", "production"});
  CHECK_EXIT(yml, 0);
  CHECK(yml.err.find("cluster") != std::string::npos);  // said: the instances run in fork mode for now
  int web = 0;
  for (const json& app : s.jlist()) {
    if (app["name"] != "web") continue;
    ++web;
    CHECK(app["pm2_env"].value("NODE_ENV", "") == "production");
  }
  CHECK(web == 2);
}
