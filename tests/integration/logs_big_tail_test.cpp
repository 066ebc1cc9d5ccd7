// `logs` tails of megabytes: streamed in parts, they cost pmxd one part per client however many
// clients ask and however little they read, the other clients are served meanwhile, and
// `pmx logs` prints exactly the lines of the file.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/integration/harness.hpp"

namespace pmx::itest {
namespace {

/// Under the sanitizers each reply takes five times as long to build, and ASan's quarantine
/// keeps freed memory: RSS says nothing.
const bool kSanitized = sanitized();

/// Writes "line 1" .. "line n" to path (about 13 MB for a million); returns the text.
std::string write_numbered_log(const std::string& path, long n) {
  std::string text;
  for (long i = 1; i <= n; ++i) text += "line " + std::to_string(i) + "\n";
  std::ofstream(path) << text;
  return text;
}

/// Starts a sleeper whose out log is path, already holding a big log, and waits for its own
/// first line in it.
void start_with_log(Session& s, const std::string& path) {
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "big", "--output", path, "--log-max-size", "0"}), 0);
  REQUIRE(wait_until([&] {
    auto text = read_file(path);
    return text && text->find("sleeper: pid") != std::string::npos;
  }, 10s));
}

}  // namespace

TEST_CASE("thirty clients asking for a billion lines of a 13 MB log and never reading keep pmxd small, "
          "and list answers meanwhile", "[logs][regression]") {
  Session s;
  const std::string log = s.home.scratch("big-out.log");
  // 13 MB; a fifth of it under the sanitizers, where each reply takes five times as long to build.
  write_numbered_log(log, kSanitized ? 200'000 : 1'000'000);
  start_with_log(s, log);
  REQUIRE_EXIT(s.pmx({"list"}), 0);
  const long rss_before = rss_bytes(s.daemon.pid());

  std::vector<RawClient> clients(30);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    REQUIRE(clients[i].connect(s.home.socket()));
    json request = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "logs"},
                    {"params", {{"targets", {"big"}}, {"lines", 1'000'000'000}, {"streams", {"out"}}}}};
    REQUIRE(clients[i].send(request.dump() + "\n"));
  }
  // Meanwhile, another client's `list`, five times over: each answers within pmx's own 10 s
  // timeout (before the replies were streamed, it waited behind them for 27 s).
  long peak = 0;
  for (int round = 0; round < 5; ++round) {
    CHECK_EXIT(s.pmx({"--timeout", "10s", "list"}), 0);
    peak = std::max(peak, rss_bytes(s.daemon.pid()));
  }
  INFO("pmxd rss before " << rss_before << ", peak " << peak);
  if (!kSanitized) CHECK(peak < rss_before + 32L * 1024 * 1024);

  // The replies are there, whole, for whoever reads them (two are read; the others close).
  for (std::size_t i = 0; i < 2; ++i) {
    auto line = clients[i].read_line(30s);
    REQUIRE(line);
    json reply = json::parse(*line, nullptr, false);
    REQUIRE(reply.is_object());
    REQUIRE(reply.contains("result"));
    const auto& lines = reply["result"]["files"][0]["lines"];
    REQUIRE(lines.size() >= (kSanitized ? 100'000u : 500'000u));
    CHECK(lines.front().get<std::string>().starts_with("line "));
    CHECK(lines.back().get<std::string>().starts_with("sleeper: pid "));
  }
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("pmx logs of a tail of megabytes prints exactly the last lines of the file", "[logs]") {
  Session s;
  const std::string log = s.home.scratch("big-out.log");
  // About 7.5 MB, under the 8 MiB read per file; a fifth of it under the sanitizers, where a
  // Debug pmx and pmxd beside other work took more than 90 s over the whole of it.
  const long total = kSanitized ? 120'000 : 600'000;
  const long tail = kSanitized ? 100'000 : 500'000;
  write_numbered_log(log, total);
  start_with_log(s, log);
  const auto file = read_lines(log);
  // What is checked is the tail, not its speed: a loaded machine under the sanitizers may take
  // longer than the default 10 s.
  auto r = s.pmx({"--timeout", "90s", "logs", "big", "--lines", std::to_string(tail), "--raw", "--out", "--nostream"});
  REQUIRE_EXIT(r, 0);
  std::vector<std::string> printed;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) printed.push_back(l);
  REQUIRE(file.size() >= static_cast<std::size_t>(tail));
  const std::vector<std::string> expected(file.end() - tail, file.end());
  CHECK(printed.size() == expected.size());
  CHECK((printed == expected));
}

TEST_CASE("a reply that comes while a logs reply is streamed waits behind it, whole", "[logs]") {
  Session s;
  const std::string log = s.home.scratch("big-out.log");
  write_numbered_log(log, kSanitized ? 200'000 : 1'000'000);  // five rounds within the test's time
  start_with_log(s, log);
  for (int round = 0; round < 5; ++round) {
    RawClient c;
    REQUIRE(c.connect(s.home.socket()));
    // restart is answered once the app is online again: while the tail is being searched.
    json restart = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "restart"}, {"params", {{"targets", {"big"}}}}};
    json logs = {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "logs"},
                 {"params", {{"targets", {"big"}}, {"lines", 1'000'000'000}, {"streams", {"out"}}}}};
    REQUIRE(c.send(restart.dump() + "\n" + logs.dump() + "\n"));
    std::set<int> answered;
    for (int i = 0; i < 2; ++i) {
      auto line = c.read_line(30s);
      REQUIRE(line);
      json reply = json::parse(*line, nullptr, false);
      INFO("round " << round << ": " << line->substr(0, 200));
      REQUIRE(reply.is_object());
      REQUIRE(reply.contains("result"));
      answered.insert(reply.value("id", 0));
    }
    CHECK(answered == std::set<int>{1, 2});
  }
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

}  // namespace pmx::itest
