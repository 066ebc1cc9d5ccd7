// Node apps with a shutdown handler of their own (`server.close()` on SIGINT, as express,
// fastify and Next.js apps have) lose no request to a pmx stop or reload: the preload drains
// their servers before the app's handler runs (node/preload.js, PMX_DRAIN). With `--no-pmx`
// the app's own server.close() is Node's.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

namespace {

/// One HTTP/1.1 keep-alive request on fd and its whole response (headers and a
/// Content-Length body), or nullopt when the connection ends or fails first, or at timeout.
std::optional<std::string> drain_test_exchange(int fd, std::chrono::milliseconds timeout) {
  const std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return std::nullopt;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string got;
  for (;;) {
    const auto head_end = got.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::string head = lower(got.substr(0, head_end));
      const auto at = head.find("content-length:");
      if (at == std::string::npos) return std::nullopt;  // the test's apps always send one
      const std::size_t length = std::stoul(head.substr(at + 15));
      if (got.size() >= head_end + 4 + length) return got;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;  // EOF or a reset: the request failed
    got.append(buf, static_cast<std::size_t>(n));
  }
}

/// A Node server that closes itself on SIGINT, as apps do by hand. Its handler logs "closing".
std::string write_graceful_server(const TempHome& home) {
  const std::string path = home.scratch("graceful.js");
  std::ofstream(path) << "const server = require('http').createServer((q, r) => r.end(process.pid + ' ok'))"
                         ".listen(process.env.PORT);\n"
                         "process.on('SIGINT', () => { console.log('closing'); server.close(() => process.exit(0)); });\n";
  return path;
}

/// The express folder (node_modules/express), installed with npm at the first use in this
/// build tree; empty when it cannot be.
std::string express_folder() { return npm_package_folder("express", "express", "express@4"); }

/// An express app as its generator writes them (bin/www), with the graceful handler its docs
/// recommend: server.close() on SIGINT, exit in the callback.
std::string write_express_server(const TempHome& home, const std::string& folder) {
  const std::string path = home.scratch("express_app.js");
  std::ofstream(path) << "const express = require('" << folder << "/node_modules/express');\n"
                         "const app = express();\n"
                         "app.get('/', (req, res) => res.send(process.pid + ' ok'));\n"
                         "const server = app.listen(process.env.PORT);\n"
                         "process.on('SIGINT', () => server.close(() => process.exit(0)));\n";
  return path;
}

/// tests/fixtures/keepalive_pool.js run on a thread: `connections` keep-alive connections
/// sending requests back to back until stop() (or 60 s).
class KeepAlivePool {
 public:
  KeepAlivePool(const TempHome& home, int port, int connections)
      : stop_file_(home.scratch("pool.stop")), progress_file_(home.scratch("pool.progress")) {
    thread_ = std::thread([this, port, connections] {
      RunOptions options;
      options.timeout = 90s;
      result_ = run_process({"/bin/sh", "-c", "exec node \"$0\" \"$@\"", std::string(PMX_SOURCE_DIR) + "/tests/fixtures/keepalive_pool.js",
                             std::to_string(port), std::to_string(connections), stop_file_, progress_file_, "60"},
                            options);
    });
  }
  ~KeepAlivePool() { finish(); }
  KeepAlivePool(const KeepAlivePool&) = delete;
  KeepAlivePool& operator=(const KeepAlivePool&) = delete;

  /// Requests answered so far (from the pool's progress file).
  long ok() const {
    const auto text = read_file(progress_file_);
    return text ? std::atol(text->c_str()) : 0;
  }
  /// Stops the pool and returns its summary: {"ok", "failed", "errors"}.
  json finish() {
    if (thread_.joinable()) {
      std::ofstream(stop_file_) << "stop\n";
      thread_.join();
    }
    const json summary = json::parse(result_.out, nullptr, false);
    return summary.is_discarded() ? json{{"ok", 0}, {"failed", -1}, {"output", result_.out + result_.err}} : summary;
  }

 private:
  std::string stop_file_, progress_file_;
  RunResult result_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("a keep-alive client pool across 3 reloads of a Node app with its own server.close() handler loses 0 requests",
          "[integration][reload][node][drain][regression]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  const bool express = GENERATE(false, true);
  INFO((express ? "express app" : "plain http app"));
  std::string server = write_graceful_server(s.home);
  if (express) {
    const std::string folder = express_folder();
    if (folder.empty()) {
      WARN("express could not be installed from npm: skipped");
      return;
    }
    server = write_express_server(s.home, folder);
  }
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", server, "--name", "web", "-i", "2", "--kill-timeout", "3000"}, opts), 0);
  REQUIRE(http_get(port, "/", 5s).has_value());

  KeepAlivePool pool(s.home, port, 16);
  REQUIRE(wait_until([&] { return pool.ok() > 200; }, 20s));
  for (int i = 0; i < 3; ++i) {
    const long before = pool.ok();
    REQUIRE_EXIT(s.pmx({"reload", "web"}), 0);
    // Load on every reload: the pool must be sending while the next one starts.
    REQUIRE(wait_until([&] { return pool.ok() > before + 200; }, 20s));
  }
  const json summary = pool.finish();
  INFO(summary.dump());
  CHECK(summary.value("failed", -1) == 0);
  CHECK(summary.value("ok", 0) > 800);
  for (const auto& app : s.jlist()) CHECK(app["pm2_env"].value("restart_time", -1) == 3);
}

TEST_CASE("a request sent on an idle keep-alive connection after a fork-mode app's stop signal is answered, "
          "with Connection: close",
          "[integration][node][drain][regression]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  RunOptions opts;
  // A long grace, so that a slow machine still sends its request within it.
  opts.env = {{"PORT", std::to_string(port)}, {"PMX_DRAIN_IDLE_GRACE", "4000"}};
  REQUIRE_EXIT(s.pmx({"start", write_graceful_server(s.home), "--name", "web", "--kill-timeout", "9000"}, opts), 0);
  REQUIRE(wait_until([&] { return http_get(port, "/", 1s).has_value(); }, 10s));

  const int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  const auto first = drain_test_exchange(fd, 5s);
  REQUIRE(first);  // the connection is now idle and kept alive

  RunResult stopped;
  std::thread stopper([&] { stopped = s.pmx({"stop", "web"}); });
  // The port closes when the app stops accepting: before this change, in the same moment
  // Node's server.close() closed the idle connection too.
  const bool closed = wait_until([&] {
    const int probe = connect_loopback(port);
    if (probe < 0) return true;
    ::close(probe);
    return false;
  }, 10s);
  const auto second = closed ? drain_test_exchange(fd, 5s) : std::nullopt;
  ::close(fd);
  stopper.join();
  REQUIRE(closed);
  REQUIRE(second);
  CHECK(mentions(*second, "200 OK"));
  CHECK(mentions(lower(*second), "connection: close"));
  CHECK(stopped.exit_code == 0);
  CHECK(s.status("web") == "stopped");
  // The app's own handler ran, after the drain, and its callback ended it.
  CHECK(wait_until([&] { return mentions(read_file(s.home.path() + "/logs/web-out.log").value_or(""), "closing"); }, 5s));
}

TEST_CASE("a Node app run with --no-pmx has its own server.close() left to Node: an idle keep-alive connection is closed with the port",
          "[integration][node][drain]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}, {"PMX_DRAIN_IDLE_GRACE", "4000"}};
  REQUIRE_EXIT(s.pmx({"start", write_graceful_server(s.home), "--name", "web", "--no-pmx", "--kill-timeout", "9000"},
                     opts),
               0);
  REQUIRE(wait_until([&] { return http_get(port, "/", 1s).has_value(); }, 10s));
  const int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  REQUIRE(drain_test_exchange(fd, 5s));
  RunResult stopped;
  std::thread stopper([&] { stopped = s.pmx({"stop", "web"}); });
  const bool closed = wait_until([&] {
    const int probe = connect_loopback(port);
    if (probe < 0) return true;
    ::close(probe);
    return false;
  }, 10s);
  // Node's close() ended the idle connection when it closed the port: EOF, no response.
  const auto second = closed ? drain_test_exchange(fd, 5s) : std::nullopt;
  ::close(fd);
  stopper.join();
  REQUIRE(closed);
  CHECK_FALSE(second.has_value());
  CHECK(stopped.exit_code == 0);
}

TEST_CASE("a keep-alive client pool across 2 restarts of a cluster-mode Node app with its own server.close() handler "
          "loses 0 requests",
          "[integration][node][drain][regression]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", write_graceful_server(s.home), "--name", "web", "-i", "2", "--kill-timeout", "3000"},
                     opts),
               0);
  REQUIRE(http_get(port, "/", 5s).has_value());
  KeepAlivePool pool(s.home, port, 16);
  REQUIRE(wait_until([&] { return pool.ok() > 200; }, 20s));
  for (int i = 0; i < 2; ++i) {
    const long before = pool.ok();
    // pmxd keeps the socket while both instances are replaced: connections wait in its queue.
    REQUIRE_EXIT(s.pmx({"restart", "web"}), 0);
    REQUIRE(wait_until([&] { return pool.ok() > before + 200; }, 20s));
  }
  const json summary = pool.finish();
  INFO(summary.dump());
  CHECK(summary.value("failed", -1) == 0);
}
