// The sockets pmxd binds for an app on request of its Node channel: what an app may ask for (its
// grant, ports from 1024, paths its own user could use), whose the socket files are, which file
// pmxd removes at stop, and how many sockets one app can make it hold. The app here is an
// attacker: it writes raw NODE_PMX lines on its channel, whatever the preload would send, and the
// files it aims at are decoys made by the test. The attack of a cluster-mode app runs as nobody,
// then as a real user made for the test (ThrowawayUser), from folders in its home.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/throwaway_user.hpp"

using namespace pmx::itest;

namespace {

/// A folder every user can read (TempHome is root's only), for the app's script and the files
/// it reaches; removed at the end.
struct AttackArea {
  AttackArea() {
    char tmpl[] = "/tmp/pmx-sockets-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
  }
  ~AttackArea() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  AttackArea(const AttackArea&) = delete;
  AttackArea& operator=(const AttackArea&) = delete;

  /// A folder in the area, owned by uid (root: -1) with this mode.
  std::string folder(const std::string& name, mode_t mode, uid_t uid = static_cast<uid_t>(-1),
                     gid_t gid = static_cast<gid_t>(-1)) const {
    const std::string dir = path + "/" + name;
    REQUIRE(::mkdir(dir.c_str(), mode) == 0);
    REQUIRE(::chmod(dir.c_str(), mode) == 0);
    REQUIRE(::chown(dir.c_str(), uid, gid) == 0);
    return dir;
  }
  std::string path;
};

/// A Node app that sends plan.requests as raw listen lines on its channel (fd process.channel.fd),
/// records each reply {errno, handle} by id in results, optionally swaps a folder it owns for a
/// symbolic link once every reply came (plan.swap: {folder, target}), then sets "done".
std::string write_channel_attacker(const std::string& dir) {
  const std::string path = dir + "/attacker.js";
  std::ofstream(path) << R"JS('use strict';
const fs = require('fs');
const [results, planText] = process.argv.slice(2);
const plan = JSON.parse(planText);
const replies = {};
let left = plan.requests.length;
function save() {
  fs.writeFileSync(results + '.tmp', JSON.stringify(replies));
  fs.renameSync(results + '.tmp', results);
}
process.on('internalMessage', (msg, handle) => {
  if (!msg || msg.cmd !== 'NODE_PMX' || msg.pmx !== 'listen' || !(msg.id >= 1000)) return;
  replies[msg.id] = { errno: msg.errno || 0, handle: Boolean(handle) };
  if (handle) handle.close();
  if (--left === 0) {
    if (plan.swap) {
      fs.renameSync(plan.swap.folder, plan.swap.folder + '.old');
      fs.symlinkSync(plan.swap.target, plan.swap.folder);
    }
    replies.done = true;
  }
  save();
});
const fd = process.channel.fd;
for (const r of plan.requests) {
  fs.writeSync(fd, JSON.stringify(Object.assign({ cmd: 'NODE_PMX', pmx: 'listen', index: 0 }, r)) + '\n');
}
setInterval(() => {}, 1 << 30);
)JS";
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  return path;
}

/// The attacker's replies once it is done (waits up to 20 s).
json attack_results(const std::string& file) {
  json results;
  const bool done = wait_until([&] {
    results = json::parse(read_file(file).value_or("{}"), nullptr, false);
    return results.is_object() && results.value("done", false);
  }, 20s);
  INFO("results: " << read_file(file).value_or("(none)"));
  REQUIRE(done);
  return results;
}

/// A port below 1024 that nothing listens on (from first on).
int free_privileged_port(int first) {
  for (int port = first; port < 1024; ++port) {
    if (port_is_free(port)) return port;
  }
  FAIL("no free port below 1024 from " << first);
  return 0;
}

/// How many descriptors pid holds.
std::size_t open_fds(pid_t pid) { return open_fd_targets(pid).size(); }

}  // namespace

TEST_CASE("a fork-mode Node app's channel makes pmxd bind nothing: no port, no socket file, an error reply",
          "[integration][sockets][node][regression]") {
  REQUIRE(have_node());
  Session s;
  AttackArea area;
  const std::string app = area.folder("app", 0755);
  const std::string decoys = area.folder("decoys", 0700);
  const std::string script = write_channel_attacker(app);
  const std::string results = s.home.scratch("results.json");
  const int port = free_port();
  const int low = free_privileged_port(900);
  const json plan = {{"requests",
                      {{{"id", 1001}, {"address", nullptr}, {"port", port}},
                       {{"id", 1002}, {"address", nullptr}, {"port", low}},
                       {{"id", 1003}, {"address", decoys + "/fork.sock"}, {"port", -1}}}}};
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "forked", "--cwd", app, "--", results, plan.dump()}), 0);
  REQUIRE(s.app("forked")["pm2_env"].value("exec_mode", "") == "fork_mode");
  const json replies = attack_results(results);
  for (const char* id : {"1001", "1002", "1003"}) {
    INFO(id << ": " << replies[id]);
    CHECK(replies[id].value("errno", 0) == -EPERM);
    CHECK_FALSE(replies[id].value("handle", true));
  }
  CHECK(port_is_free(port));
  CHECK(port_is_free(low));
  CHECK_FALSE(file_exists(decoys + "/fork.sock"));
  CHECK(mentions(read_file(s.home.daemon_log()).value_or(""), "only cluster-mode Node apps run with pmx's preload"));
  REQUIRE_EXIT(s.pmx({"ping"}), 0);  // the daemon serves on
}

TEST_CASE("a cluster-mode Node app run as another user gets what its user could bind, its socket files are its "
          "own, and a folder swapped for a link never makes pmxd remove another file",
          "[integration][sockets][node][regression]") {
  REQUIRE(have_node());
  REQUIRE(::geteuid() == 0);  // the suite runs as root: pmxd runs the app as nobody, or as a user it makes
  // nobody (no home of its own), or a real user made for the test, whose own folders are in its home.
  const bool real_user = GENERATE(false, true);
  std::unique_ptr<ThrowawayUser> user;
  std::string user_name = "nobody";
  uid_t uid = 0;
  gid_t gid = 0;
  if (real_user) {
    user = std::make_unique<ThrowawayUser>();
    if (!user->ready()) return;  // ThrowawayUser said why
    user_name = user->name();
    uid = user->uid();
    gid = user->gid();
  } else {
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody);
    uid = nobody->pw_uid;
    gid = nobody->pw_gid;
  }
  INFO("the app runs as " << user_name);
  Session s;
  AttackArea area;
  const std::string app = area.folder("app", 0755);
  const std::string out = area.folder("out", 0755, uid, gid);  // the results, written by the app
  // The app's own folders.
  const std::string own = real_user ? user->own_folder("own") : area.folder("own", 0755, uid, gid);
  const std::string run = own + "/run";
  REQUIRE(::mkdir(run.c_str(), 0755) == 0);
  REQUIRE(::chown(run.c_str(), uid, gid) == 0);
  // Root's: a folder the app cannot enter, and in it the file the swap aims at.
  const std::string decoys = area.folder("decoys", 0700);
  std::ofstream(decoys + "/app.sock") << "root's file\n";
  REQUIRE(::chmod((decoys + "/app.sock").c_str(), 0600) == 0);

  const std::string script = write_channel_attacker(app);
  const std::string results = out + "/results.json";
  const int granted = free_privileged_port(800);
  const int denied = free_privileged_port(granted + 1);
  const json plan = {{"requests",
                      {{{"id", 1001}, {"address", nullptr}, {"port", denied}},
                       {{"id", 1002}, {"address", nullptr}, {"port", granted}},
                       {{"id", 1003}, {"address", decoys + "/evil.sock"}, {"port", -1}},
                       {{"id", 1004}, {"address", run + "/app.sock"}, {"port", -1}}}},
                     {"swap", {{"folder", run}, {"target", decoys}}}};
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "attack", "-i", "1", "--uid", user_name, "--cwd", app, "--port",
                      std::to_string(granted), "--listen-timeout", "500", "--kill-timeout", "1000", "--", results,
                      plan.dump()}),
               0);
  REQUIRE(s.app("attack")["pm2_env"].value("exec_mode", "") == "cluster_mode");
  const json replies = attack_results(results);
  INFO("replies: " << replies.dump());

  // A privileged port the configuration does not name: refused, and nothing listens there.
  CHECK(replies["1001"].value("errno", 0) == -EACCES);
  CHECK(port_is_free(denied));
  // The port the operator granted (--port): the app's socket.
  CHECK(replies["1002"].value("handle", false));
  // A folder its user cannot enter: refused as it would be refused to the app itself.
  CHECK(replies["1003"].value("errno", 0) == -EACCES);
  CHECK_FALSE(file_exists(decoys + "/evil.sock"));
  // A folder of its own: the socket file is there, and it is the app user's.
  CHECK(replies["1004"].value("handle", false));
  struct stat st{};
  REQUIRE(::lstat((run + ".old/app.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK(st.st_uid == uid);
  const std::string log = read_file(s.home.daemon_log()).value_or("");
  CHECK(mentions(log, "a port below 1024 is bound for an app only when its port or listen option names it"));

  // The app swapped run/ for a link to root's folder: the stop removes the socket pmxd made (now
  // in run.old/), never the file the link leads to.
  REQUIRE_EXIT(s.pmx({"stop", "attack"}), 0);
  CHECK(read_file(decoys + "/app.sock").value_or("(removed)") == "root's file\n");
  CHECK_FALSE(file_exists(run + ".old/app.sock"));
  CHECK(port_is_free(granted));
  REQUIRE_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("a flood of listen requests stops at 64 sockets per app, each refusal an error in the app, and pmxd "
          "serves on", "[integration][sockets][node][regression]") {
  REQUIRE(have_node());
  Session s;
  AttackArea area;
  const std::string app = area.folder("app", 0755);
  const std::string script = write_channel_attacker(app);
  const std::string results = s.home.scratch("results.json");
  json requests = json::array();
  for (int i = 0; i < 100; ++i) requests.push_back({{"id", 1000 + i}, {"address", "127.0.0.1"}, {"port", 0}, {"index", i}});
  // The baseline is taken after a first app of the same kind came and went: pmxd opens some of
  // its own descriptors (its log, its home, the state writer's) on first use.
  const json one = json::array({requests[0]});
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "warm", "-i", "1", "--cwd", app, "--listen-timeout", "500",
                      "--kill-timeout", "1000", "--", s.home.scratch("warm.json"), json{{"requests", one}}.dump()}),
               0);
  attack_results(s.home.scratch("warm.json"));
  REQUIRE_EXIT(s.pmx({"delete", "warm"}), 0);
  const std::vector<std::string> fds_at_start = open_fd_targets(s.daemon.pid());
  const std::size_t fds_before = fds_at_start.size();
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "flood", "-i", "1", "--cwd", app, "--listen-timeout", "500",
                      "--kill-timeout", "1000", "--", results, json{{"requests", requests}}.dump()}),
               0);
  const json replies = attack_results(results);
  int handles = 0, refused = 0;
  for (int i = 0; i < 100; ++i) {
    const json& r = replies[std::to_string(1000 + i)];
    if (r.value("handle", false)) ++handles;
    else if (r.value("errno", 0) == -EMFILE) ++refused;
  }
  CHECK(handles == 64);
  CHECK(refused == 36);
  // pmxd holds the 64 sockets and its usual descriptors (the app's pipes, its channel), no more.
  CHECK(open_fds(s.daemon.pid()) <= fds_before + 64 + 16);
  CHECK(mentions(read_file(s.home.daemon_log()).value_or(""), "the most pmxd binds for one app"));
  REQUIRE_EXIT(s.pmx({"ping"}), 0);
  REQUIRE_EXIT(s.pmx({"delete", "flood"}), 0);
  // The 64 sockets go with the app; the last of its pipes and the client's connection close a
  // moment after delete answers, so the count is polled down to the baseline.
  const bool back = wait_until([&] { return open_fds(s.daemon.pid()) <= fds_before + 2; }, 10s);
  INFO("pmxd's descriptors before: " << json(fds_at_start).dump() << "\nafter delete: "
                                     << json(open_fd_targets(s.daemon.pid())).dump());
  CHECK(back);
}

TEST_CASE("a stock Node server run as another user gets listen() errors for what its user could not bind, as "
          "without pmx", "[integration][sockets][node][regression]") {
  REQUIRE(have_node());
  REQUIRE(::geteuid() == 0);
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody);
  Session s;
  AttackArea area;
  const std::string app = area.folder("app", 0755);
  const std::string out = area.folder("out", 0755, nobody->pw_uid, nobody->pw_gid);
  const std::string decoys = area.folder("decoys", 0700);
  const std::string script = app + "/server.js";
  std::ofstream(script) << R"JS('use strict';
const net = require('net');
const fs = require('fs');
const [results, port, path] = process.argv.slice(2);
const seen = {};
function record(key, what) {
  seen[key] = what;
  if (Object.keys(seen).length < 2) return;
  fs.writeFileSync(results + '.tmp', JSON.stringify(seen));
  fs.renameSync(results + '.tmp', results);
}
net.createServer().on('error', (e) => record('port', e.code)).listen(Number(port), () => record('port', 'listening'));
net.createServer().on('error', (e) => record('path', e.code)).listen(path, () => record('path', 'listening'));
setInterval(() => {}, 1 << 30);
)JS";
  REQUIRE(::chmod(script.c_str(), 0644) == 0);
  const std::string results = out + "/results.json";
  const int port = free_privileged_port(700);
  REQUIRE_EXIT(s.pmx({"start", script, "--name", "server", "-i", "1", "--uid", "nobody", "--cwd", app,
                      "--listen-timeout", "500", "--kill-timeout", "1000", "--", results, std::to_string(port),
                      decoys + "/server.sock"}),
               0);
  json seen;
  REQUIRE(wait_until([&] {
    seen = json::parse(read_file(results).value_or("{}"), nullptr, false);
    return seen.is_object() && seen.size() == 2;
  }, 20s));
  INFO(seen.dump());
  CHECK(seen.value("port", "") == "EACCES");
  CHECK(seen.value("path", "") == "EACCES");
  CHECK(port_is_free(port));
  CHECK_FALSE(file_exists(decoys + "/server.sock"));
}
