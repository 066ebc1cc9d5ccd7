// The Prometheus endpoint: off by default, served at pmx.yaml's metrics.listen (read at start and
// on reloadLogs) on pmxd's own loop; its exposition checked with a real parser (Debian's
// python3-prometheus-client); GET /metrics only; bounded under clients that send junk, too much,
// nothing, or too many connections, while pmxd keeps serving. `pmx metrics` prints the same.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

namespace {

/// Everything the server sends on fd until it closes, or until the deadline (nullopt then).
std::optional<std::string> scrape_read_all(int fd, milliseconds timeout) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

/// The whole response (status line, headers, body) to request; nullopt when refused or slow.
std::optional<std::string> scrape_exchange(int port, const std::string& request) {
  const int fd = connect_loopback(port);
  if (fd < 0) return std::nullopt;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  auto out = scrape_read_all(fd, 10s);
  ::close(fd);
  return out;
}

std::string scrape_get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"; }

/// What Debian's prometheus_client parser (python3-prometheus-client, for /usr/bin/python3) makes of text: one line per sample,
/// "name{label=value,...} value" with labels sorted, or an error.
RunResult parse_exposition(const TempHome& home, const std::string& text) {
  const std::string file = home.scratch("exposition.txt");
  std::ofstream(file) << text;
  return run_process({"/usr/bin/python3", "-c",
                      "import sys\n"
                      "from prometheus_client.parser import text_string_to_metric_families\n"
                      "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
                      "  print('family', f.name, f.type)\n"
                      "  for s in f.samples:\n"
                      "    print(s.name + '{' + ','.join(k + '=' + v for k, v in sorted(s.labels.items())) + '}', s.value)\n",
                      file});
}

/// How many descriptors pid has open.
std::size_t scrape_fd_count(pid_t pid) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

bool have_prometheus_parser() {
  return run_process({"/usr/bin/python3", "-c", "import prometheus_client.parser"}).exit_code == 0;
}

/// pmx.yaml with metrics.listen on 127.0.0.1:port (or none), read with reloadLogs.
void serve_metrics_on(Session& s, int port) {
  std::ofstream(s.home.path() + "/pmx.yaml")
      << (port > 0 ? "metrics:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n" : std::string("metrics: {}\n"));
  REQUIRE_EXIT(s.pmx({"reloadLogs"}), 0);
}

}  // namespace

TEST_CASE("GET /metrics serves every family in text format 0.0.4, as Prometheus' parser reads it",
          "[integration][metrics][prometheus]") {
  REQUIRE(have_node());
  REQUIRE(have_prometheus_parser());  // scripts/setup.sh installs python3-prometheus-client
  Session s;
  const int port = free_port();
  CHECK_FALSE(scrape_exchange(port, scrape_get("/metrics")));  // off by default
  serve_metrics_on(s, port);
  const std::string server = s.home.scratch("server.js");
  std::ofstream(server) << "require('http').createServer((q, r) => r.end('ok')).listen(0);\n";
  REQUIRE_EXIT(s.pmx({"start", server, "--name", "web \"quoted\"", "--namespace", "shop"}), 0);
  REQUIRE_EXIT(s.pmx({"start", FIXTURE_SLEEPER, "--name", "sleeper"}), 0);
  REQUIRE(s.wait_status("sleeper", "online"));

  std::string response;
  REQUIRE(wait_until([&] {
    response = scrape_exchange(port, scrape_get("/metrics")).value_or("");
    return mentions(response, "pmx_nodejs_eventloop_delay_seconds{");
  }, 20s));
  CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(mentions(response, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);

  const RunResult parsed = parse_exposition(s.home, body);
  INFO(body << "\n" << parsed);
  REQUIRE(parsed.exit_code == 0);
  const std::string& out = parsed.out;
  for (const char* family :
       {"family pmx_instance_status gauge", "family pmx_instance_restarts counter", "family pmx_instance_cpu_seconds counter",
        "family pmx_instance_memory_bytes gauge", "family pmx_instance_start_time_seconds gauge",
        "family pmx_nodejs_heap_used_bytes gauge", "family pmx_nodejs_heap_total_bytes gauge",
        "family pmx_nodejs_active_handles gauge", "family pmx_nodejs_eventloop_delay_seconds gauge",
        "family pmx_app_metric gauge", "family pmx_daemon_resident_memory_bytes gauge", "family pmx_daemon_open_fds gauge",
        "family pmx_daemon_requests counter", "family pmx_build_info gauge"}) {
    CHECK(mentions(out, family));
  }
  // Labels app, id and namespace on every instance series, escaped where they must be.
  CHECK(mentions(out, "pmx_instance_status{app=web \"quoted\",id=0,namespace=shop,status=online} 1.0"));
  CHECK(mentions(out, "pmx_instance_status{app=web \"quoted\",id=0,namespace=shop,status=stopped} 0.0"));
  CHECK(mentions(out, "pmx_instance_status{app=sleeper,id=1,namespace=default,status=online} 1.0"));
  CHECK(mentions(out, "pmx_instance_restarts_total{app=sleeper,id=1,namespace=default} 0.0"));
  CHECK(mentions(out, "pmx_nodejs_eventloop_delay_seconds{app=web \"quoted\",id=0,namespace=shop,quantile=0.99}"));
  CHECK_FALSE(mentions(out, "pmx_nodejs_heap_used_bytes{app=sleeper"));  // not a Node app
  CHECK(mentions(out, "pmx_build_info{commit="));
  if (run_process({"/bin/sh", "-c", "command -v promtool"}).exit_code == 0) {
    const std::string file = s.home.scratch("exposition.txt");
    CHECK(run_process({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"}).exit_code == 0);
  }

  // `pmx metrics` prints the same exposition, endpoint or not.
  const RunResult printed = s.pmx({"metrics"});
  CHECK(printed.exit_code == 0);
  const RunResult reparsed = parse_exposition(s.home, printed.out);
  CHECK(reparsed.exit_code == 0);
  CHECK(mentions(reparsed.out, "pmx_instance_status{app=sleeper,id=1,namespace=default,status=online} 1.0"));

  // Off again on reloadLogs once pmx.yaml no longer asks for it.
  serve_metrics_on(s, 0);
  CHECK_FALSE(scrape_exchange(port, scrape_get("/metrics")));
  CHECK(s.pmx({"metrics"}).exit_code == 0);
}

TEST_CASE("the endpoint answers GET /metrics only and nothing a scraper sends hurts pmxd",
          "[integration][metrics][prometheus]") {
  Session s;
  const int port = free_port();
  serve_metrics_on(s, port);
  REQUIRE(wait_until([&] { return scrape_exchange(port, scrape_get("/metrics")).has_value(); }, 5s));
  const std::size_t fds_before = scrape_fd_count(s.daemon.pid());

  CHECK(scrape_exchange(port, scrape_get("/")).value_or("").starts_with("HTTP/1.1 404 "));
  CHECK(scrape_exchange(port, scrape_get("/metrics/x")).value_or("").starts_with("HTTP/1.1 404 "));
  const std::string post = scrape_exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").value_or("");
  CHECK(post.starts_with("HTTP/1.1 405 "));
  CHECK(mentions(post, "Allow: GET\r\n"));
  CHECK(scrape_exchange(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").value_or("").starts_with("HTTP/1.1 405 "));
  CHECK(scrape_exchange(port, scrape_get("/metrics?x=1")).value_or("").starts_with("HTTP/1.1 200 "));
  // Junk, a header over the size cap, a body: the connection is closed, nothing else happens.
  CHECK(scrape_exchange(port, "\x01\x02 not http at all\r\n\r\n").value_or("x").empty());
  CHECK(scrape_exchange(port, "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n").value_or("x").empty());
  CHECK_FALSE(scrape_exchange(port, "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").value_or("").starts_with("HTTP/1.1 200"));
  // Keep-alive: two scrapes on one connection.
  {
    const int fd = connect_loopback(port);
    REQUIRE(fd >= 0);
    const std::string two = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + scrape_get("/metrics");
    ::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
    const std::string both = scrape_read_all(fd, 10s).value_or("");
    ::close(fd);
    std::size_t count = 0;
    for (std::size_t at = 0; (at = both.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++count;
    CHECK(count == 2);
  }
  // Connections over the cap are closed at once; silent ones do not stop a scrape.
  std::vector<int> idle;
  for (int i = 0; i < 80; ++i) {
    const int fd = connect_loopback(port);
    if (fd >= 0) idle.push_back(fd);
  }
  const int over = idle.back();
  CHECK(scrape_read_all(over, 5s).value_or("x").empty());  // closed by pmxd without a word
  for (std::size_t i = 0; i + 16 < idle.size(); ++i) ::close(idle[i]);  // free most of the slots
  REQUIRE(wait_until([&] {
    return scrape_exchange(port, scrape_get("/metrics")).value_or("").starts_with("HTTP/1.1 200 ");
  }, 10s));
  for (std::size_t i = idle.size() >= 16 ? idle.size() - 16 : 0; i < idle.size(); ++i) ::close(idle[i]);
  CHECK(s.pmx({"ping"}).exit_code == 0);
  // Every connection pmxd took is closed again: no descriptor is left behind.
  CHECK(wait_until([&] { return scrape_fd_count(s.daemon.pid()) <= fds_before; }, 15s));
}

TEST_CASE("a metrics.listen pmx.yaml cannot bind is named by reloadLogs, and pmxd goes on",
          "[integration][metrics][prometheus]") {
  Session s;
  std::ofstream(s.home.path() + "/pmx.yaml") << "metrics:\n  listen: \"192.0.2.1:9615\"\n";  // not this machine's
  const RunResult reloaded = s.pmx({"reloadLogs"});
  CHECK(reloaded.exit_code == 1);
  CHECK(mentions(reloaded.err, "cannot serve metrics on 192.0.2.1:9615"));
  CHECK(s.pmx({"ping"}).exit_code == 0);
  const auto log = read_file(s.home.daemon_log()).value_or("");
  CHECK(mentions(log, "cannot serve metrics on 192.0.2.1:9615"));
  std::ofstream(s.home.path() + "/pmx.yaml") << "metrics:\n  listen: \"nonsense\"\n";
  const RunResult bad = s.pmx({"reloadLogs"});
  CHECK(bad.exit_code != 0);
  CHECK(mentions(bad.err, "metrics.listen"));
}

namespace {

/// Every "expr" string in a Grafana dashboard, at any depth.
void grafana_exprs(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "expr" && value.is_string()) out.push_back(value.get<std::string>());
      else grafana_exprs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) grafana_exprs(v, out);
  }
}

}  // namespace

TEST_CASE("packaging/grafana/pmx.json queries only families pmxd exposes", "[integration][metrics][prometheus]") {
  const auto text = read_file(std::string(PMX_SOURCE_DIR) + "/packaging/grafana/pmx.json");
  REQUIRE(text);
  const json dashboard = json::parse(*text, nullptr, false);
  REQUIRE_FALSE(dashboard.is_discarded());
  std::vector<std::string> exprs;
  grafana_exprs(dashboard, exprs);
  REQUIRE(exprs.size() >= 10);

  Session s;
  const RunResult exposition = s.pmx({"metrics"});
  REQUIRE(exposition.exit_code == 0);
  std::set<std::string> families;
  std::istringstream lines(exposition.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) families.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  REQUIRE(families.count("pmx_instance_status") == 1);
  std::set<std::string> used;
  for (const std::string& expr : exprs) {
    for (std::size_t at = expr.find("pmx_"); at != std::string::npos; at = expr.find("pmx_", at + 1)) {
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(expr[at - 1])) || expr[at - 1] == '_')) continue;
      std::size_t end = at;
      while (end < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[end])) || expr[end] == '_')) ++end;
      used.insert(expr.substr(at, end - at));
    }
  }
  for (const std::string& name : used) {
    INFO(name);
    CHECK(families.count(name) == 1);
  }
  // Every family is on the dashboard.
  for (const std::string& family : families) {
    INFO(family);
    CHECK(used.count(family) == 1);
  }
}

TEST_CASE("apps with a health check have pmx_instance_healthy and pmx_instance_health_state, others none",
          "[integration][metrics][prometheus]") {
  REQUIRE(have_prometheus_parser());
  Session s;
  const std::string eco = s.home.scratch("health.yaml");
  std::ofstream(eco) << "apps:\n"
                        "  - name: checked\n    script: " << FIXTURE_SLEEPER << "\n"
                        "    health_check:\n      exec: \"true\"\n      interval: 200ms\n"
                        "  - name: failing\n    script: " << FIXTURE_SLEEPER << "\n"
                        "    health_check:\n      exec: \"false\"\n      interval: 200ms\n      retries: 1000\n"
                        "  - name: unchecked\n    script: " << FIXTURE_SLEEPER << "\n";
  REQUIRE_EXIT(s.pmx({"start", eco}), 0);
  std::string out;
  REQUIRE(wait_until([&] {
    const RunResult printed = s.pmx({"metrics"});
    out = parse_exposition(s.home, printed.out).out;
    return mentions(out, "pmx_instance_healthy{app=checked,id=0,namespace=default} 1.0") &&
           mentions(out, "pmx_instance_healthy{app=failing,id=1,namespace=default} 0.0");
  }, 15s));
  INFO(out);
  CHECK(mentions(out, "family pmx_instance_healthy gauge"));
  CHECK(mentions(out, "family pmx_instance_health_state gauge"));
  CHECK(mentions(out, "pmx_instance_health_state{app=checked,id=0,namespace=default,state=healthy} 1.0"));
  CHECK(mentions(out, "pmx_instance_health_state{app=checked,id=0,namespace=default,state=unhealthy} 0.0"));
  CHECK(mentions(out, "pmx_instance_health_state{app=failing,id=1,namespace=default,state=healthy} 0.0"));
  CHECK_FALSE(mentions(out, "pmx_instance_healthy{app=unchecked"));
  CHECK_FALSE(mentions(out, "pmx_instance_health_state{app=unchecked"));
}
