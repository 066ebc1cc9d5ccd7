// Cluster mode (issue 9): sockets pmxd binds once per app and hands to every instance as fds
// 3.. (systemd's socket activation), their lifetime, and bind errors.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

TEST_CASE("issue_9: a Python server serving from fd 3 with -i 2 --port: both instances answer on the one port",
          "[integration][issue_9][cluster]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  REQUIRE(port > 0);
  const std::string server = write_fd3_server(s.home);
  REQUIRE_EXIT(s.pmx({"start", server, "--name", "web", "-i", "2", "--port", std::to_string(port),
                      "--kill-timeout", "1000"}),
               0);
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

TEST_CASE("issue_9: the port stays bound across a crash and a restart, and is free right after stop and delete",
          "[integration][issue_9][cluster]") {
  REQUIRE(have_python());
  Session s;
  const int port = free_port();
  const std::string server = write_fd3_server(s.home);
  REQUIRE_EXIT(s.pmx({"start", server, "--name", "web", "-i", "2", "--listen", "127.0.0.1:" + std::to_string(port),
                      "--kill-timeout", "1000"}),
               0);
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

TEST_CASE("issue_9: a port in use fails the start, naming the address, and nothing runs",
          "[integration][issue_9][cluster]") {
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

  // A listen entry that cannot be read is refused before anything is sent.
  const RunResult bad = s.pmx({"start", bin::kSleeper, "--name", "bad", "-i", "2", "--listen", "127.0.0.1:99999"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("'127.0.0.1:99999': the port must be 1..65535") != std::string::npos);
  CHECK(s.jlist().empty());
}

TEST_CASE("issue_9: a Unix socket listener gets its mode, serves every instance and is removed with the app",
          "[integration][issue_9][cluster]") {
  REQUIRE(have_python());
  Session s;
  const std::string server = write_fd3_server(s.home);
  const std::string sock = s.home.scratch("web.sock");
  REQUIRE_EXIT(s.pmx({"start", server, "--name", "web", "-i", "2", "--listen", "unix:" + sock + ",mode=0660",
                      "--kill-timeout", "1000"}),
               0);
  REQUIRE(s.wait_status("web", "online"));
  struct stat st{};
  REQUIRE(::stat(sock.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(answers_from([&] { return http_get_unix(sock); }, pids_of(s, "web")).size() == 2);
  REQUIRE_EXIT(s.pmx({"delete", "web"}), 0);
  CHECK(::stat(sock.c_str(), &st) != 0);
}

TEST_CASE("issue_9: exec_mode follows PM2's rule: -i for a Node app, or any app with --port, else fork",
          "[integration][issue_9][cluster]") {
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
