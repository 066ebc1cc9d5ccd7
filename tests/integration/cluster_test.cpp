// Cluster mode: sockets pmxd binds once per app and hands to every instance as fds
// 3.. (systemd's socket activation), their lifetime, and bind errors.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// The first word of an answer (the pid, for every server here).
std::string first_word(const std::string& text) {
  std::istringstream in(text);
  std::string w;
  in >> w;
  return w;
}

}  // namespace

TEST_CASE("a Python server serving from fd 3 with -i 2 --port: both instances answer on the one port",
          "[integration][cluster]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  REQUIRE(port > 0);
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port)})), 0);
  REQUIRE(s.wait_status("web", "online"));
  const json list = s.jlist();
  REQUIRE(list.size() == 2);
  for (const auto& app : list) CHECK(app["pm2_env"].value("exec_mode", "") == "cluster_mode");
  const auto pids = pids_of(s, "web");
  REQUIRE(pids.size() == 2);
  const auto seen = answers_from([&] { return http_get(port); }, pids);
  REQUIRE(seen.size() == 2);
  for (const auto& [pid, w] : seen) {
    REQUIRE(w.size() == 5);
    CHECK(w[1] == "1");            // LISTEN_FDS
    CHECK(w[2] == pid);            // LISTEN_PID: the instance's own pid
    CHECK(w[3] == "web");          // LISTEN_FDNAMES
    CHECK(w[4] == std::to_string(port));
  }
}

TEST_CASE("the port stays bound across a crash and a restart, and is free right after stop and delete",
          "[integration][cluster]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--listen", "127.0.0.1:" + std::to_string(port)})), 0);
  REQUIRE(s.wait_status("web", "online"));
  REQUIRE(http_get(port).has_value());
  CHECK_FALSE(port_is_free(port));

  // Both instances killed: the socket stays with pmxd, the replacements serve from it.
  const auto before = pids_of(s, "web");
  for (const auto& pid : before) ::kill(std::stoi(pid), SIGKILL);
  REQUIRE(wait_until([&] {
    auto now = pids_of(s, "web");
    if (now.size() != 2) return false;
    for (const auto& p : now) {
      if (before.count(p)) return false;
    }
    return true;
  }, 15s));
  CHECK_FALSE(port_is_free(port));
  REQUIRE(answers_from([&] { return http_get(port); }, pids_of(s, "web")).size() == 2);

  REQUIRE_EXIT(s.pmx({"restart", "web"}), 0);
  REQUIRE(http_get(port).has_value());

  REQUIRE_EXIT(s.pmx({"stop", "web"}), 0);
  CHECK(port_is_free(port));
  CHECK_FALSE(http_get(port, "/", 2s).has_value());

  // Started again: bound again.
  REQUIRE_EXIT(s.pmx({"start", "web"}), 0);
  REQUIRE(s.wait_status("web", "online"));
  REQUIRE(wait_until([&] { return http_get(port).has_value(); }, 10s));

  REQUIRE_EXIT(s.pmx({"delete", "web"}), 0);
  CHECK(port_is_free(port));
}

TEST_CASE("a port in use fails the start, naming the address, and nothing runs",
          "[integration][cluster]") {
  Session s;
  // Someone else listens on the port.
  const int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(holder >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(holder, 4) == 0);
  REQUIRE(getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  const RunResult r = s.pmx({"start", bin::kSleeper, "--name", "taken", "-i", "2", "--listen", address});
  ::close(holder);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find(address) != std::string::npos);
  CHECK(r.err.find("Address already in use") != std::string::npos);
  CHECK(s.jlist().empty());

  // Another app of this pmxd on the same address (pmxd's sockets allow SO_REUSEPORT, so the
  // kernel would not say it): refused too.
  const int port = free_port();
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "first", "-i", "2", "--port", std::to_string(port),
                      "--kill-timeout", "500"}),
               0);
  const RunResult second = s.pmx({"start", bin::kSleeper, "--name", "second", "-i", "2", "--port", std::to_string(port)});
  CHECK(second.exit_code != 0);
  CHECK(second.err.find("*:" + std::to_string(port) + ": app 'first' listens there") != std::string::npos);
  CHECK(s.jlist().size() == 2);
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);

  // A listen entry that cannot be read is refused before anything is sent.
  const RunResult bad = s.pmx({"start", bin::kSleeper, "--name", "bad", "-i", "2", "--listen", "127.0.0.1:99999"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("'127.0.0.1:99999': the port must be 1..65535") != std::string::npos);
  CHECK(s.jlist().empty());
}

TEST_CASE("a Unix socket listener gets its mode, serves every instance and is removed with the app",
          "[integration][cluster]") {
  REQUIRE(have_python());
  Session s;
  const std::string sock = s.home.scratch("web.sock");
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--listen", "unix:" + sock + ",mode=0660"})), 0);
  REQUIRE(s.wait_status("web", "online"));
  struct stat st{};
  REQUIRE(::stat(sock.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(answers_from([&] { return http_get_unix(sock); }, pids_of(s, "web")).size() == 2);
  REQUIRE_EXIT(s.pmx({"delete", "web"}), 0);
  CHECK(::stat(sock.c_str(), &st) != 0);
}

TEST_CASE("exec_mode follows PM2's rule: -i for a Node app, or any app with --port, else fork",
          "[integration][cluster]") {
  Session s;
  const int port = free_port();
  // A binary with -i and no socket: fork instances, as before.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "plain", "-i", "2", "--kill-timeout", "500"}), 0);
  // A binary with -i and --port: cluster mode, the port bound by pmxd.
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sock", "-i", "2", "--port", std::to_string(port),
                      "--kill-timeout", "500"}),
               0);
  // exec_mode cluster without a socket for a non-Node app: a warning, fork instances.
  const RunResult warned = s.pmx({"start", bin::kSleeper, "--name", "asked", "-i", "2", "--exec-mode", "cluster",
                                  "--kill-timeout", "500"});
  CHECK_EXIT(warned, 0);
  CHECK(warned.err.find("the instances run in fork mode") != std::string::npos);
  for (const auto& app : s.jlist()) {
    const std::string name = app.value("name", "");
    INFO(name);
    CHECK(app["pm2_env"].value("exec_mode", "") == (name == "sock" ? "cluster_mode" : "fork_mode"));
  }
  CHECK_FALSE(port_is_free(port));
}

namespace {


/// A stock Node HTTP server: listen(process.env.PORT), nothing of pmx in it. Answers
/// "<pid> <NODE_APP_INSTANCE>".
std::string write_node_server(const TempHome& home) {
  const std::string path = home.scratch("server.js");
  std::ofstream(path) << "require('http').createServer((req, res) => "
                         "res.end(process.pid + ' ' + process.env.NODE_APP_INSTANCE))\n"
                         "  .listen(process.env.PORT, () => console.log('listening'));\n";
  return path;
}

}  // namespace

TEST_CASE("two instances of a stock Node HTTP server answer on one port, with no pmx option",
          "[integration][cluster][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  const std::string server = write_node_server(s.home);
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--kill-timeout", "1000"}, opts), 0);
  REQUIRE(s.wait_status("server", "online"));
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("exec_mode", "") == "cluster_mode");
  const auto pids = pids_of(s, "server");
  REQUIRE(pids.size() == 2);
  const auto seen = answers_from([&] { return http_get(port); }, pids);
  REQUIRE(seen.size() == 2);
  std::set<std::string> instances;
  for (const auto& [pid, w] : seen) instances.insert(w.size() > 1 ? w[1] : "");
  CHECK(instances == std::set<std::string>{"0", "1"});
  // The socket is pmxd's: both instances killed, connections wait in its queue and the
  // replacements answer them.
  for (const auto& pid : pids) ::kill(std::stoi(pid), SIGKILL);
  REQUIRE(wait_until([&] {
    for (const auto& pid : pids) {
      if (process_alive(std::stoi(pid))) return false;
    }
    return true;
  }, 10s));
  CHECK(http_get(port, "/", 10s).has_value());
  REQUIRE_EXIT(s.pmx({"delete", "all"}), 0);
  CHECK(port_is_free(port));
}

TEST_CASE("an ecosystem file with instances: 2 and no exec_mode runs a Node app in cluster mode",
          "[integration][cluster][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  write_node_server(s.home);
  const std::string file = s.home.scratch("ecosystem.config.js");
  std::ofstream(file) << "module.exports = { apps: [{ name: 'api', script: './server.js', instances: 2,\n"
                         "  kill_timeout: 1000, env: { PORT: " << port << " } }] };\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  REQUIRE(s.wait_status("api", "online"));
  const auto pids = pids_of(s, "api");
  REQUIRE(pids.size() == 2);
  CHECK(answers_from([&] { return http_get(port); }, pids).size() == 2);
  for (const auto& app : s.jlist()) {
    CHECK(app["pm2_env"].value("exec_mode", "") == "cluster_mode");
    CHECK(app["pm2_env"].value("restart_time", -1) == 0);  // no instance crashed on the port
  }
}

TEST_CASE("wait_ready - online only after process.send('ready'), and one that never sends it is online at listen_timeout, with a warning",
          "[integration][ready][node][regression]") {
  REQUIRE(have_node());
  Session s;
  // Ready after a while: the marker is written just before process.send('ready'), so when
  // `pmx start` returns (it waits for the app to be online) the marker must be there.
  const std::string marker = s.home.scratch("ready-sent");
  const std::string slow = s.home.scratch("slow.js");
  std::ofstream(slow) << "setTimeout(() => { require('fs').writeFileSync('" << marker
                      << "', 'x'); process.send('ready'); }, 700);\nsetInterval(() => {}, 1000);\n";
  REQUIRE_EXIT(s.pmx({"start", slow, "--wait-ready", "--kill-timeout", "500"}), 0);
  CHECK(file_exists(marker));
  CHECK(s.status("slow") == "online");

  // Never ready (many copied configs set wait_ready and never send it): as under PM2, online
  // once listen_timeout has passed, not killed; the start says so, and so do jlist and pmx.log.
  const std::string never = s.home.scratch("never.js");
  std::ofstream(never) << "setInterval(() => {}, 1000);\n";
  const RunResult r = s.pmx({"start", never, "--wait-ready", "--listen-timeout", "800", "--max-restarts", "0",
                             "--kill-timeout", "500"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("no ready message came within listen_timeout 800 ms") != std::string::npos);
  CHECK(s.status("never") == "online");
  CHECK(s.app("never").value("pid", 0) > 0);
  CHECK(s.app("never")["pm2_env"].value("ready_warning", "").find("no ready message") != std::string::npos);
  CHECK(read_file(s.home.daemon_log()).value_or("").find("never:1 no ready message came") != std::string::npos);
  CHECK(s.app("never")["pm2_env"].value("restart_time", -1) == 0);
}

TEST_CASE("a cluster-mode Node worker that never listens is online at listen_timeout, and start says why it waited",
          "[integration][ready][node][regression]") {
  REQUIRE(have_node());
  Session s;
  const std::string worker = s.home.scratch("worker.js");
  std::ofstream(worker) << "setInterval(() => {}, 1000);\n";  // a queue worker: no server
  const RunResult r = s.pmx({"start", worker, "-i", "2", "--listen-timeout", "500"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("did not listen within listen_timeout 500 ms") != std::string::npos);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "online");
}

TEST_CASE("a cluster-mode Node instance is online once it listens: the start returns with the port served",
          "[integration][ready][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  // The server listens only after a delay: an instance online before that would let the
  // request below be refused (nothing binds the port until the first listen()).
  const std::string server = s.home.scratch("late.js");
  std::ofstream(server) << "setTimeout(() => require('http').createServer((q, r) => r.end('ok'))"
                           ".listen(process.env.PORT), 600);\n";
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--kill-timeout", "1000"}, opts), 0);
  CHECK(http_get(port, "/", 2s) == std::optional<std::string>("ok"));
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "online");
}

namespace {

/// Requests in a loop on another thread (HTTP/1.0, a connection each) until stopped: what a
/// client sees while instances are replaced.
class LoadLoop {
 public:
  explicit LoadLoop(int port) : thread_([this, port] {
      while (!stop_) {
        if (auto body = http_get(port, "/", 5s)) {
          ++ok_;
          std::lock_guard lock(mutex_);
          pids_.insert(first_word(*body));
        } else {
          ++failed_;
        }
      }
    }) {}
  ~LoadLoop() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::set<std::string> pids() {
    std::lock_guard lock(mutex_);
    return pids_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::mutex mutex_;
  std::set<std::string> pids_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("3 reloads of a cluster app under load fail no request and replace every pid",
          "[integration][reload][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  // The naive server (no signal handler: the preload drains it), and one that closes its
  // server itself on SIGINT.
  const bool graceful = GENERATE(false, true);
  INFO((graceful ? "graceful" : "naive"));
  const std::string server = s.home.scratch("srv.js");
  std::ofstream(server) << "const server = require('http').createServer((q, r) => r.end(process.pid + ' ok'))"
                           ".listen(process.env.PORT);\n"
                        << (graceful ? "process.on('SIGINT', () => server.close(() => process.exit(0)));\n" : "");
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--kill-timeout", "3000"}, opts), 0);
  const auto before = pids_of(s, "srv");
  REQUIRE(before.size() == 2);
  LoadLoop load(port);
  REQUIRE(wait_until([&] { return load.ok() > 20; }, 10s));
  for (int i = 0; i < 3; ++i) REQUIRE_EXIT(s.pmx({"reload", "srv"}), 0);
  const int ok_before_end = load.ok();
  REQUIRE(wait_until([&] { return load.ok() > ok_before_end + 20; }, 10s));
  load.finish();
  CHECK(load.failed() == 0);
  const auto after = pids_of(s, "srv");
  REQUIRE(after.size() == 2);
  for (const auto& pid : after) CHECK(before.count(pid) == 0);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("restart_time", -1) == 3);
}

TEST_CASE("a reload whose new run crashes stops there, fails, and the old runs serve on",
          "[integration][reload][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  // A broken deploy: the new code exits at start.
  const std::string flag = s.home.scratch("broken");
  const std::string server = s.home.scratch("srv.js");
  std::ofstream(server) << "const broken = require('fs').existsSync('" << flag << "');\n"
                        << "if (broken) process.exit(3);\n"
                        << "require('http').createServer((q, r) => r.end(process.pid + ' ok')).listen(process.env.PORT,\n"
                        << "  () => { if (!broken) process.send('ready'); });\n";
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  std::vector<std::string> start = {"start", server, "-i", "2", "--kill-timeout", "1000", "--max-restarts", "1"};
  REQUIRE_EXIT(s.pmx(start, opts), 0);
  const auto before = pids_of(s, "srv");
  REQUIRE(before.size() == 2);
  const std::string first = std::to_string(s.jlist()[0].value("pid", 0));
  std::ofstream(flag) << "x";  // a broken deploy
  const RunResult r = s.pmx({"reload", "srv"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("reload of srv (id 0) failed") != std::string::npos);
  CHECK(r.err.find("exited with code 3") != std::string::npos);
  CHECK(r.err.find("pid " + first + " goes on serving") != std::string::npos);
  CHECK(r.err.find("1 instance(s) not reloaded") != std::string::npos);
  // Neither instance lost its run: same pids, online, no restart counted; both answer.
  CHECK(pids_of(s, "srv") == before);
  for (const auto& app : s.jlist()) {
    CHECK(app["pm2_env"].value("status", "") == "online");
    CHECK(app["pm2_env"].value("restart_time", -1) == 0);
  }
  std::set<std::string> answered;
  REQUIRE(wait_until([&] {
    if (auto body = http_get(port)) answered.insert(first_word(*body));
    return answered.size() == 2;
  }, 10s));
  CHECK(answered == before);
  // Mended, the reload goes through.
  ::unlink(flag.c_str());
  REQUIRE_EXIT(s.pmx({"reload", "srv"}), 0);
  for (const auto& pid : pids_of(s, "srv")) CHECK(before.count(pid) == 0);
}

TEST_CASE("a reload whose new run never says it is ready takes over at listen_timeout, with a warning, as PM2's does",
          "[integration][reload][node][regression]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  const std::string flag = s.home.scratch("silent");
  const std::string server = s.home.scratch("srv.js");
  std::ofstream(server) << "const silent = require('fs').existsSync('" << flag << "');\n"
                        << "require('http').createServer((q, r) => r.end(process.pid + ' ok')).listen(process.env.PORT,\n"
                        << "  () => { if (!silent) process.send('ready'); });\n";
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--kill-timeout", "1000", "--wait-ready", "--listen-timeout", "1000"},
                     opts), 0);
  const auto before = pids_of(s, "srv");
  REQUIRE(before.size() == 2);
  std::ofstream(flag) << "x";  // the new code forgets process.send('ready')
  const RunResult r = s.pmx({"reload", "srv"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("no ready message came within listen_timeout 1000 ms") != std::string::npos);
  const auto after = pids_of(s, "srv");
  REQUIRE(after.size() == 2);
  for (const auto& pid : after) CHECK(before.count(pid) == 0);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "online");
  std::set<std::string> answered;
  REQUIRE(wait_until([&] {
    if (auto body = http_get(port)) answered.insert(first_word(*body));
    return answered.size() == 2;
  }, 10s));
  CHECK(answered == after);
}

TEST_CASE("the shared listening socket is non-blocking, so an instance that loses a connection to another never stalls in accept",
          "[integration][cluster][node]") {
  REQUIRE(have_node());
  REQUIRE(have_python());
  Session s;
  // The socket-activated app: fd 3 is the socket pmxd bound, O_NONBLOCK (04000) set.
  const int port = free_port();
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port)})), 0);
  for (const auto& pid : pids_of(s, "web")) {
    const auto info = read_file("/proc/" + pid + "/fdinfo/3");
    REQUIRE(info.has_value());
    const auto at = info->find("flags:");
    REQUIRE(at != std::string::npos);
    const unsigned long flags = std::stoul(info->substr(at + 6), nullptr, 8);
    CHECK((flags & 04000) != 0);
  }
  // What a blocking socket did: both Node instances woken for one connection, the one that
  // lost the race blocked in accept() and its loop stopped, so its own SIGINT handler never
  // ran and `stop` ended it with SIGKILL after kill_timeout (9 rounds in 20 here).
  const int node_port = free_port();
  const std::string server = s.home.scratch("graceful.js");
  std::ofstream(server) << "require('http').createServer((q, r) => r.end('ok')).listen(process.env.PORT);\n"
                           "process.on('SIGINT', () => process.exit(0));\n";
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(node_port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--kill-timeout", "3000"}, opts), 0);
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    REQUIRE_EXIT(s.pmx({"restart", "graceful"}), 0);
    for (int i = 0; i < 4; ++i) REQUIRE(http_get(node_port).has_value());
    REQUIRE_EXIT(s.pmx({"stop", "graceful"}), 0);
    for (const auto& app : s.jlist()) {
      if (app.value("name", "") != "graceful") continue;
      CHECK(app["pm2_env"].value("exit_code", json(-1)) == 0);
      CHECK(app["pm2_env"].value("exit_signal", json()).is_null());
    }
  }
}

TEST_CASE("a socket-activated app that cannot say it is ready is reloaded once each new run outlived min_uptime",
          "[integration][reload]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  REQUIRE_EXIT(s.pmx(fd3_web_start(s.home, {"--port", std::to_string(port), "--min-uptime", "300"})), 0);
  const auto before = pids_of(s, "web");
  REQUIRE(before.size() == 2);
  REQUIRE_EXIT(s.pmx({"reload", "web"}), 0);
  const auto after = pids_of(s, "web");
  REQUIRE(after.size() == 2);
  for (const auto& pid : after) CHECK(before.count(pid) == 0);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("restart_time", -1) == 1);
  // The new runs serve, each told its own pid in LISTEN_PID; the old ones are gone.
  const auto seen = answers_from([&] { return http_get(port); }, after);
  REQUIRE(seen.size() == 2);
  for (const auto& [pid, w] : seen) CHECK((w.size() > 2 && w[2] == pid));
  REQUIRE(wait_until([&] {
    for (const auto& pid : before) {
      if (process_alive(std::stoi(pid))) return false;
    }
    return true;
  }, 10s));
}

TEST_CASE("a stop during a reload kills the replacement, stops the app and fails the reload",
          "[integration][reload][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  const std::string flag = s.home.scratch("broken");
  const std::string started = s.home.scratch("replacement-pid");
  const std::string server = s.home.scratch("srv.js");
  // Once the flag is there, a new run records its pid and never says it is ready.
  std::ofstream(server) << "const fs = require('fs');\n"
                        << "const broken = fs.existsSync('" << flag << "');\n"
                        << "if (broken) fs.writeFileSync('" << started << "', String(process.pid));\n"
                        << "require('http').createServer((q, r) => r.end(process.pid + ' ok')).listen(process.env.PORT,\n"
                        << "  () => { if (!broken) process.send('ready'); });\n";
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--wait-ready", "--listen-timeout", "60000", "--kill-timeout", "1000"},
                     opts),
               0);
  const auto before = pids_of(s, "srv");
  std::ofstream(flag) << "x";
  auto reload = std::async(std::launch::async, [&] { return s.pmx({"reload", "srv"}); });
  REQUIRE(wait_until([&] { return read_file(started).has_value() && !read_file(started)->empty(); }, 10s));
  const int replacement = std::stoi(*read_file(started));
  CHECK(process_alive(replacement));
  REQUIRE_EXIT(s.pmx({"stop", "srv"}), 0);
  const RunResult r = reload.get();
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("went stopping meanwhile") != std::string::npos);
  CHECK_FALSE(process_alive(replacement));
  for (const auto& pid : before) CHECK_FALSE(process_alive(std::stoi(pid)));
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("status", "") == "stopped");
  CHECK(port_is_free(port));
}

TEST_CASE("reuse_port leaves a Node app's listen() to itself: no socket sharing by the preload, no socket from pmxd",
          "[integration][cluster][node]") {
  REQUIRE(have_node());
  Session s;
  const std::string worker = s.home.scratch("rp.js");
  std::ofstream(worker) << "setInterval(() => {}, 1000);\n";
  REQUIRE_EXIT(s.pmx({"start", worker, "-i", "2", "--reuse-port"}), 0);
  REQUIRE(s.wait_status("rp", "online"));
  const auto pids = pids_of(s, "rp");
  REQUIRE(pids.size() == 2);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("exec_mode", "") == "cluster_mode");
  // The preload is there for the metrics (docs/metrics.md), but its socket part is off.
  for (const auto& pid : pids) {
    std::string cmdline = read_file("/proc/" + pid + "/cmdline").value_or("");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    CHECK(cmdline.find("rp.js") != std::string::npos);
    CHECK(read_file("/proc/" + pid + "/environ").value_or("").find("PMX_CLUSTER=1") == std::string::npos);
  }
  // Without reuse_port the same app gets the preload's socket part.
  REQUIRE_EXIT(s.pmx({"start", worker, "--name", "shared", "-i", "2"}), 0);
  REQUIRE(s.wait_status("shared", "online"));
  for (const auto& pid : pids_of(s, "shared")) {
    CHECK(read_file("/proc/" + pid + "/cmdline").value_or("").find("--require") != std::string::npos);
    CHECK(read_file("/proc/" + pid + "/environ").value_or("").find("PMX_CLUSTER=1") != std::string::npos);
  }
}

TEST_CASE("shutdown_with_message stops a Node app with the message 'shutdown', in fork and cluster mode",
          "[integration][node]") {
  REQUIRE(have_node());
  Session s;
  // Fork mode: the app ignores SIGINT, so only the message can end it before kill_timeout.
  const std::string marker = s.home.scratch("got-shutdown");
  const std::string worker = s.home.scratch("worker.js");
  std::ofstream(worker) << "process.on('SIGINT', () => {});\n"
                           "process.on('message', (m) => {\n"
                           "  if (m !== 'shutdown') return;\n"
                           "  require('fs').writeFileSync('" << marker << "', 'shutdown');\n"
                           "  process.exit(0);\n"
                           "});\n"
                           "setInterval(() => {}, 1000);\n";
  REQUIRE_EXIT(s.pmx({"start", worker, "--shutdown-with-message", "--kill-timeout", "20000"}), 0);
  REQUIRE(s.wait_status("worker", "online"));
  REQUIRE_EXIT(s.pmx({"stop", "worker"}), 0);
  CHECK(s.status("worker") == "stopped");
  CHECK(read_file(marker).value_or("") == "shutdown");
  CHECK(s.app("worker")["pm2_env"].value("exit_code", json(-1)) == 0);

  // Cluster mode, a naive server with no handler of its own: the preload takes the message and
  // drains the server, which ends with code 0 instead of dying of a signal.
  const int port = free_port();
  const std::string server = write_node_server(s.home);
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "-i", "2", "--shutdown-with-message", "--kill-timeout", "20000"}, opts), 0);
  REQUIRE(http_get(port).has_value());
  REQUIRE_EXIT(s.pmx({"stop", "server"}), 0);
  int servers = 0;
  for (const auto& app : s.jlist()) {
    if (app.value("name", "") != "server") continue;
    ++servers;
    CHECK(app["pm2_env"].value("status", "") == "stopped");
    CHECK(app["pm2_env"].value("exit_code", json(-1)) == 0);  // not killed by SIGINT
  }
  CHECK(servers == 2);
  CHECK(port_is_free(port));
}

TEST_CASE("any language signals readiness and status through NOTIFY_SOCKET (sd_notify)",
          "[integration][ready][notify]") {
  REQUIRE(have_python());
  Session s;
  const std::string marker = s.home.scratch("ready-sent");
  const std::string app = s.home.scratch("notifier.py");
  std::ofstream(app) << "import os, socket, time\n"
                        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                        "s.sendto(b'STATUS=warming up', os.environ['NOTIFY_SOCKET'])\n"
                        "time.sleep(0.5)\n"
                        "open('" << marker << "', 'w').write('x')\n"
                        "s.sendto(b'READY=1\\nSTATUS=serving 3 workers', os.environ['NOTIFY_SOCKET'])\n"
                        "while True: time.sleep(1)\n";
  REQUIRE_EXIT(s.pmx({"start", app, "--wait-ready", "--kill-timeout", "500"}), 0);
  CHECK(file_exists(marker));
  CHECK(s.status("notifier") == "online");
  CHECK(s.app("notifier")["pm2_env"].value("notify_status", "") == "serving 3 workers");
  const RunResult describe = s.pmx({"describe", "notifier"});
  CHECK(describe.out.find("serving 3 workers") != std::string::npos);

  // A shell script's systemd-notify (a child of the app's leader) counts for the app too.
  if (run_process({"/bin/sh", "-c", "command -v systemd-notify"}).exit_code == 0) {
    const std::string script = s.home.scratch("notify.sh");
    std::ofstream(script) << "#!/bin/sh\nsleep 0.3\nsystemd-notify --ready --status='from sh'\nexec sleep 600\n";
    ::chmod(script.c_str(), 0755);
    REQUIRE_EXIT(s.pmx({"start", script, "--wait-ready", "--kill-timeout", "500"}), 0);
    CHECK(s.status("notify") == "online");
  }
}

TEST_CASE("a pmxd that crashes during a reload leaves no replacement behind: the next one kills it and keeps the old runs",
          "[integration][reload][node][adopt]") {
  REQUIRE(have_node());
  TempHome home;
  const int port = free_port();
  const std::string flag = home.scratch("broken");
  const std::string started = home.scratch("replacement-pid");
  const std::string server = home.scratch("srv.js");
  // Once the flag is there, a new run listens, records its pid and never says it is ready.
  std::ofstream(server) << "const fs = require('fs');\n"
                        << "const broken = fs.existsSync('" << flag << "');\n"
                        << "require('http').createServer((q, r) => r.end(process.pid + ' ok')).listen(" << port
                        << ", () => {\n"
                        << "  if (broken) fs.writeFileSync('" << started << "', String(process.pid));\n"
                        << "  else process.send('ready');\n"
                        << "});\n";
  auto first = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", server, "-i", "2", "--wait-ready", "--listen-timeout", "60000"}), 0);
  const auto jlist = [&] { return json::parse(run_pmx(home.path(), {"jlist"}).out); };
  std::set<int> before;
  for (const auto& app : jlist()) before.insert(app.value("pid", 0));
  REQUIRE(before.size() == 2);
  std::ofstream(flag) << "x";
  // What pmxd logged, for a failure's message (spdlog flushes it once a second).
  const auto daemon_log = [&] { return read_file(home.daemon_log()).value_or("(none)"); };
  auto reload = std::async(std::launch::async, [&] { return run_pmx(home.path(), {"reload", "srv"}); });
  if (!wait_until([&] { return !read_file(started).value_or("").empty(); }, 20s)) {
    FAIL("the replacement never listened; pmx.log:\n" << daemon_log());
  }
  const int replacement = std::stoi(*read_file(started));
  // The state file records the replacement before pmxd dies.
  if (!wait_until([&] {
        return read_file(home.path() + "/state.json").value_or("").find("\"pid\":" + std::to_string(replacement)) !=
               std::string::npos;
      }, 20s)) {
    FAIL("state.json never recorded the replacement: " << read_file(home.path() + "/state.json").value_or(""));
  }
  first->crash();
  const RunResult lost = reload.get();
  INFO("reload: " << lost.out << lost.err);
  CHECK(lost.exit_code != 0);
  CHECK(process_alive(replacement));  // nothing has touched it yet
  DaemonProcess second(home);
  if (!wait_until([&] { return !process_alive(replacement); }, 20s)) {
    FAIL("the next pmxd left replacement pid " << replacement << " running; pmx.log:\n" << daemon_log());
  }
  // The old runs were adopted and serve on, with no restart counted.
  std::set<int> after;
  for (const auto& app : jlist()) {
    after.insert(app.value("pid", 0));
    CHECK(app["pm2_env"].value("status", "") == "online");
    CHECK(app["pm2_env"].value("restart_time", -1) == 0);
  }
  CHECK(after == before);
  CHECK(http_get(port).has_value());
  ::unlink(flag.c_str());
  REQUIRE_EXIT(run_pmx(home.path(), {"delete", "all"}), 0);
}

TEST_CASE("after pmxd crashes, a cluster app serves on, and a run started by the next pmxd gets the port",
          "[integration][cluster]") {
  REQUIRE(have_python());
  TempHome home;
  const int port = free_port();
  auto first = std::make_unique<DaemonProcess>(home);
  REQUIRE_EXIT(run_pmx(home.path(), fd3_web_start(home, {"--port", std::to_string(port)})), 0);
  const auto jlist = [&] { return json::parse(run_pmx(home.path(), {"jlist"}).out); };
  std::set<std::string> before;
  for (const auto& app : jlist()) before.insert(std::to_string(app.value("pid", 0)));
  REQUIRE(before.size() == 2);
  first->crash();
  // No pmxd: the instances still serve from the socket they were given.
  CHECK(http_get(port).has_value());
  DaemonProcess second(home);
  // One instance dies: the run the new pmxd starts needs the port, which the old runs hold.
  const pid_t victim = std::stoi(*before.begin());
  ::kill(victim, SIGKILL);
  REQUIRE(wait_until([&] {
    const json list = jlist();
    if (list.size() != 2) return false;
    for (const auto& app : list) {
      if (app.value("pid", 0) == victim || app.value("pid", 0) == 0) return false;
      if (app["pm2_env"].value("status", "") != "online") return false;
    }
    return true;
  }, 15s));
  std::set<std::string> now;
  for (const auto& app : jlist()) now.insert(std::to_string(app.value("pid", 0)));
  CHECK(answers_from([&] { return http_get(port); }, now).size() == 2);
  REQUIRE_EXIT(run_pmx(home.path(), {"delete", "all"}), 0);
}
