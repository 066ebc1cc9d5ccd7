// Cluster mode under keep-alive load: how the connections spread over the instances (each
// keep-alive connection stays with the instance that accepted it, so an uneven spread is an
// uneven load for the connections' whole life), and that reloads and a scale-down, which
// change the instances' sockets, fail no request of a keep-alive client pool.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A Node hello-world server that answers with its pid (any framework would do: the spread is
/// decided at accept).
std::string write_pid_server(const TempHome& home) {
  const std::string path = home.scratch("pidsrv.js");
  std::ofstream(path) << "require('http').createServer((q, r) => r.end(String(process.pid)))"
                         ".listen(process.env.PORT);\n";
  return path;
}

/// One HTTP/1.1 response read from fd within the deadline: its body, and whether the server
/// said Connection: close. nullopt: the connection ended or failed first.
struct Response {
  std::string body;
  bool close = false;
};
std::optional<Response> read_response(int fd, Clock::time_point deadline) {
  std::string data;
  char buf[4096];
  std::size_t header_end = std::string::npos;
  std::size_t length = 0;
  for (;;) {
    if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      const std::string head = lower(data.substr(0, header_end));
      const auto cl = head.find("content-length:");
      if (cl == std::string::npos) return std::nullopt;
      length = std::stoul(head.substr(cl + 15));
    }
    if (header_end != std::string::npos && data.size() >= header_end + 4 + length) {
      const std::string head = lower(data.substr(0, header_end));
      return Response{data.substr(header_end + 4, length), head.find("connection: close") != std::string::npos};
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

bool send_request(int fd) {
  static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return ::send(fd, request, sizeof request - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof request - 1);
}

/// Opens n connections at once (as wrk does), then asks one request on each: the pid that
/// answered each connection, "" for a connection that got no answer. All stay open until
/// every one has answered, so no instance can take a connection another one let go.
std::vector<std::string> pids_of_connections(int port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) fds.push_back(connect_loopback(port, true));
  std::vector<std::string> pids;
  const auto deadline = Clock::now() + 15s;
  for (int fd : fds) {
    pollfd p{fd, POLLOUT, 0};
    std::optional<Response> r;
    if (fd >= 0 && ::poll(&p, 1, 5000) == 1 && send_request(fd)) r = read_response(fd, deadline);
    pids.push_back(r ? r->body : "");
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  return pids;
}

/// Keep-alive clients on other threads, each one connection at a time: a request, its
/// response, the next request on the same connection; a new connection only after the server
/// said Connection: close. A request that gets no complete response (refused, reset, closed
/// under it, no answer within 5 s) is a failure.
class KeepAlivePool {
 public:
  KeepAlivePool(int port, int clients) {
    for (int i = 0; i < clients; ++i) threads_.emplace_back([this, port] { run(port); });
  }
  ~KeepAlivePool() { finish(); }
  void finish() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::set<std::string> pids() {
    std::lock_guard lock(mutex_);
    return pids_;
  }
  /// Answers since the last call, by pid.
  std::map<std::string, int> take_counts() {
    std::lock_guard lock(mutex_);
    return std::exchange(counts_, {});
  }

 private:
  void run(int port) {
    int fd = -1;
    while (!stop_) {
      if (fd < 0) fd = connect_loopback(port, false);
      std::optional<Response> r;
      if (fd >= 0 && send_request(fd)) r = read_response(fd, Clock::now() + 5s);
      if (!r) {
        ++failed_;
        if (fd >= 0) ::close(fd);
        fd = -1;
        continue;
      }
      ++ok_;
      {
        std::lock_guard lock(mutex_);
        pids_.insert(r->body);
        ++counts_[r->body];
      }
      if (r->close) {
        ::close(fd);
        fd = -1;
      }
    }
    if (fd >= 0) ::close(fd);
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::mutex mutex_;
  std::set<std::string> pids_;
  std::map<std::string, int> counts_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("64 keep-alive connections opened at once spread within 25 % over the 2 instances of a cluster app",
          "[integration][cluster][node][regression]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", write_pid_server(s.home), "-i", "2", "--kill-timeout", "1000"}, opts), 0);
  const auto pids = pids_of(s, "pidsrv");
  REQUIRE(pids.size() == 2);
  // Three bursts, each from fresh connections: with one shared accept queue, the instance that
  // wakes first takes most of a burst.
  for (int round = 0; round < 3; ++round) {
    const auto answered = pids_of_connections(port, 64);
    std::map<std::string, int> per_pid;
    for (const auto& pid : answered) ++per_pid[pid];
    INFO("round " << round << ": " << per_pid[*pids.begin()] << " / " << per_pid[*pids.rbegin()]
                  << " connections, unanswered " << per_pid[""]);
    CHECK(per_pid[""] == 0);
    for (const auto& pid : pids) {
      CHECK(per_pid[pid] >= 24);
      CHECK(per_pid[pid] <= 40);
    }
  }
}

TEST_CASE("reloads and a scale-down under a keep-alive client pool fail no request, and the instances left share the load",
          "[integration][cluster][reload][scale][node]") {
  REQUIRE(have_node());
  Session s;
  const int port = free_port();
  RunOptions opts;
  opts.env = {{"PORT", std::to_string(port)}};
  REQUIRE_EXIT(s.pmx({"start", write_pid_server(s.home), "-i", "3", "--kill-timeout", "3000"}, opts), 0);
  REQUIRE(pids_of(s, "pidsrv").size() == 3);
  KeepAlivePool pool(port, sanitized() ? 8 : 16);
  REQUIRE(wait_until([&] { return pool.ok() > 200; }, 10s));
  for (int i = 0; i < 2; ++i) {
    const int ok_before = pool.ok();
    REQUIRE_EXIT(s.pmx({"reload", "pidsrv"}), 0);
    REQUIRE(wait_until([&] { return pool.ok() > ok_before + 200; }, 10s));
  }
  REQUIRE_EXIT(s.pmx({"scale", "pidsrv", "2"}), 0);
  const auto left = pids_of(s, "pidsrv");
  REQUIRE(left.size() == 2);
  // New connections (the drained ones reconnect) go to the instances left, and both serve.
  pool.take_counts();
  REQUIRE(wait_until([&] {
    const auto counts = pool.take_counts();
    return counts.size() == 2 && counts.count(*left.begin()) && counts.count(*left.rbegin());
  }, 10s));
  const int ok_before = pool.ok();
  REQUIRE(wait_until([&] { return pool.ok() > ok_before + 200; }, 10s));
  pool.finish();
  INFO(pool.ok() << " requests answered");
  CHECK(pool.failed() == 0);
}
