// Launcher on a fake process layer: the request a run is forked with (argv, environment,
// output, sockets, Node channel), the runs it refuses to start, how one run is stopped, and
// the log files an instance gets. No fork: FakeProcessOps keeps the request.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "daemon/supervisor/launcher.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeProcessOps;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

/// A Launcher on fakes in home, with a registry of its own; binding sockets and Node messages
/// are recorded.
struct LauncherRig {
  explicit LauncherRig(const std::string& home)
      : server(io, home + "/pmx.sock"),
        notify(io, [](const Notification&) {}),
        launcher(io, Launcher::Options{config::Paths{home}, "/opt/pmx/preload.js", nullptr}, ops, registry, server,
                 notify,
                 [this](App& app, const config::AppSpec&) -> Result<bool> {
                   binds.push_back(app.name());
                   if (!bind_error.empty()) return Error{bind_error};
                   return true;
                 },
                 [this](Instance& in, NodeChannel&, const NodeMessage& msg) {
                   messages.push_back(label(in) + " " + to_string(msg.kind));
                 }) {
    launcher.open();
  }

  /// Registers an instance of the app these options describe (script /bin/sh unless given).
  Instance& add(json options, int id = 0) {
    if (!options.contains("script")) options["script"] = "/bin/sh";
    auto spec = config::spec_from_json(options);
    REQUIRE(spec);
    if (spec->cwd.empty()) spec->cwd = "/";
    Instance& in = registry.insert(std::make_unique<Instance>(id, *spec));
    launcher.name_files(in);
    return in;
  }

  /// Launches a run of in and returns its pid (the launch must succeed).
  pid_t launch(Instance& in) {
    auto run = launcher.launch(in, "", [](Instance&, pid_t, const std::string&) {});
    REQUIRE(run);
    const pid_t pid = run->pid;
    launcher.become_current(in, std::move(*run));
    return pid;
  }

  const SpawnRequest& request(pid_t pid) { return ops.procs.at(pid).request; }
  bool has_env(pid_t pid, const std::string& entry) {
    const auto& env = request(pid).env;
    return std::find(env.begin(), env.end(), entry) != env.end();
  }
  bool has_env_key(pid_t pid, const std::string& key) {
    const auto& env = request(pid).env;
    return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
  }

  boost::asio::io_context io{1};
  FakeProcessOps ops{io};
  Registry registry;
  ControlServer server;
  NotifySocket notify;
  std::vector<std::string> binds;
  std::string bind_error;
  std::vector<std::string> messages;
  Launcher launcher;
};

/// Open descriptors of this process, to see that a failed launch leaves none behind.
int launcher_open_fds() {
  int n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

}  // namespace

TEST_CASE("a run is forked with the script, its args, its cwd and the output FIFOs, and its pid is a leader",
          "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& in = rig.add({{"name", "job"}, {"args", {"-c", "exit 0"}}, {"cwd", "/tmp"}});
  const pid_t pid = rig.launch(in);
  const SpawnRequest& req = rig.request(pid);
  CHECK(req.program == "/bin/sh");
  CHECK(req.argv == std::vector<std::string>{"/bin/sh", "-c", "exit 0"});
  CHECK(req.cwd == "/tmp");
  CHECK(req.stdout_fd >= 0);
  CHECK(req.stderr_fd >= 0);
  CHECK(rig.has_env(pid, "name=job"));
  CHECK_FALSE(rig.has_env_key(pid, "NOTIFY_SOCKET"));  // the socket is not open here
  CHECK(rig.registry.leader_of(pid) == 0);
  CHECK(rig.ops.leaders.at(pid));
  CHECK(in.run.pid == pid);
  CHECK(in.run.pid_start != 0);
  CHECK(rig.binds.empty());  // a fork-mode app has no sockets to bind
}

TEST_CASE("a cluster-mode app whose sockets cannot be bound starts nothing and leaves no descriptor open",
          "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& in = rig.add({{"name", "api"}, {"exec_mode", "cluster"}, {"port", 3000}});
  rig.launcher.open_output(in);
  rig.bind_error = "*:3000: Address already in use";
  const int before = launcher_open_fds();
  auto run = rig.launcher.launch(in, "", [](Instance&, pid_t, const std::string&) {});
  REQUIRE_FALSE(run);
  CHECK(run.error() == "cannot listen on *:3000: Address already in use");
  CHECK(rig.binds == std::vector<std::string>{"api"});
  CHECK(rig.ops.spawned.empty());
  CHECK(launcher_open_fds() == before);
}

TEST_CASE("an app run as a user never looked up is not started as pmxd's user", "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& in = rig.add({{"name", "svc"}, {"uid", "nobody"}});
  auto run = rig.launcher.launch(in, "", [](Instance&, pid_t, const std::string&) {});
  REQUIRE_FALSE(run);
  CHECK(run.error().find("being looked up") != std::string::npos);
  CHECK(rig.ops.spawned.empty());
}

TEST_CASE("a Node app gets Node's IPC channel as its first fd after the sockets, and its messages are routed",
          "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& in = rig.add({{"name", "web"}, {"interpreter", "node"}});
  const pid_t pid = rig.launch(in);
  CHECK(rig.has_env(pid, "NODE_CHANNEL_FD=3"));
  CHECK(rig.has_env(pid, "NODE_CHANNEL_SERIALIZATION_MODE=json"));
  CHECK(rig.request(pid).inherited_fds.size() == 1);
  // Fork mode: the preload for its metrics only, not for sockets.
  const auto& argv = rig.request(pid).argv;
  REQUIRE(argv.size() >= 3);
  CHECK(argv[1] == "--require");
  CHECK(rig.has_env(pid, "PMX_METRICS=1"));
  CHECK_FALSE(rig.has_env(pid, "PMX_CLUSTER=1"));
  CHECK(rig.has_env(pid, "PMX_DRAIN=1"));  // its own stop handler runs after the drain
  CHECK(rig.has_env(pid, "PMX_DRAIN_TIMEOUT=1500"));
  REQUIRE(rig.ops.send_on_channel(pid, "\"ready\""));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rig.messages.empty() && std::chrono::steady_clock::now() < deadline) rig.io.run_one_for(std::chrono::milliseconds(10));
  CHECK(rig.messages == std::vector<std::string>{"web:0 ready"});
}

TEST_CASE("a cluster-mode Node app runs with the preload and its drain ends before kill_timeout", "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& in = rig.add({{"name", "web"}, {"interpreter", "node"}, {"exec_mode", "cluster"}, {"kill_timeout", 3000}});
  CHECK(rig.launcher.with_preload(in.spec));
  CHECK(rig.launcher.needs_ready(in));  // ready when it listens
  const pid_t pid = rig.launch(in);
  const auto& argv = rig.request(pid).argv;
  REQUIRE(argv.size() >= 3);
  CHECK(argv[1] == "--require");
  CHECK(argv[2] == "/opt/pmx/preload.js");
  CHECK(rig.has_env(pid, "PMX_CLUSTER=1"));
  CHECK(rig.has_env(pid, "PMX_DRAIN=1"));
  CHECK(rig.has_env(pid, "PMX_DRAIN_TIMEOUT=2900"));
  CHECK(rig.binds == std::vector<std::string>{"web"});
}

TEST_CASE("pmx: false runs a fork-mode Node app without the preload, a cluster-mode one without its metrics or its "
          "drain before the app's own stop handler",
          "[launcher][metrics]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& fork = rig.add({{"name", "bare"}, {"interpreter", "node"}, {"pmx", false}}, 0);
  const pid_t a = rig.launch(fork);
  const auto& argv = rig.request(a).argv;
  CHECK(std::find(argv.begin(), argv.end(), "--require") == argv.end());
  CHECK_FALSE(rig.has_env(a, "PMX_METRICS=1"));
  CHECK_FALSE(rig.has_env(a, "PMX_DRAIN=1"));
  Instance& cluster = rig.add({{"name", "web"}, {"interpreter", "node"}, {"exec_mode", "cluster"}, {"pmx", false}}, 1);
  const pid_t b = rig.launch(cluster);
  CHECK(rig.request(b).argv.at(1) == "--require");  // the sockets still need it
  CHECK(rig.has_env(b, "PMX_CLUSTER=1"));
  CHECK_FALSE(rig.has_env(b, "PMX_METRICS=1"));
  CHECK_FALSE(rig.has_env(b, "PMX_DRAIN=1"));  // the app's own stop handler runs at once, as without pmx
  // Not a Node app: nothing of the preload.
  Instance& shell = rig.add({{"name", "sh"}}, 2);
  const pid_t c = rig.launch(shell);
  CHECK_FALSE(rig.has_env(c, "PMX_METRICS=1"));
}

TEST_CASE("stop_run sends kill_signal, or 'shutdown' on the channel with shutdown_with_message", "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& plain = rig.add({{"name", "a"}, {"kill_signal", "SIGINT"}}, 0);
  const pid_t a = rig.launch(plain);
  rig.launcher.stop_run(plain, plain.membership(), plain.run.channel.get());
  CHECK(rig.ops.procs.at(a).signals == std::vector<int>{SIGINT});

  Instance& node = rig.add({{"name", "b"}, {"interpreter", "node"}, {"shutdown_with_message", true}}, 1);
  const pid_t b = rig.launch(node);
  rig.launcher.stop_run(node, node.membership(), node.run.channel.get());
  CHECK(rig.ops.procs.at(b).signals.empty());
  CHECK(rig.ops.read_channel(b) == "\"shutdown\"\n");
}

TEST_CASE("several instances of an app get a log file each unless merge_logs, and disable_logs writes none",
          "[launcher]") {
  SupervisorHome home;
  LauncherRig rig(home.path);
  Instance& one = rig.add({{"name", "w"}, {"instances", 2}}, 4);
  CHECK(one.out_path == home.path + "/logs/w-out-4.log");
  CHECK(one.err_path == home.path + "/logs/w-error-4.log");
  CHECK(one.pid_path == home.path + "/pids/w-4.pid");
  Instance& merged = rig.add({{"name", "m"}, {"instances", 2}, {"merge_logs", true}}, 5);
  CHECK(merged.out_path == home.path + "/logs/m-out.log");
  Instance& quiet = rig.add({{"name", "q"}, {"disable_logs", true}}, 6);
  CHECK(quiet.out_path == "/dev/null");
  CHECK(quiet.log_path.empty());
  CHECK(one.unique_id.size() == 36);
  CHECK(one.unique_id != merged.unique_id);
}
