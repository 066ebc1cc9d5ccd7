// Tests of daemon/file_watcher.hpp: what the watch ignores, and one call per burst of changes.
#include "daemon/file_watcher.hpp"
#include "tests/unit/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pmx::daemon {
namespace {

using namespace std::chrono_literals;

using pmx::test::TempDir;

TEST_CASE("watch: node_modules, .git, pmx's files and ignore_watch rules are ignored", "[watch]") {
  boost::asio::io_context io;
  TempDir dir;
  FileWatcher::Rules rules;
  rules.roots = {dir.path};
  rules.ignore = {"*.log", "tmp", "[/\\\\]\\.cache"};
  rules.ours = [&](const std::string& p) { return p == dir.path + "/app.pid"; };
  FileWatcher w(io, rules, 100ms, [](const std::string&, std::size_t) {});
  CHECK(w.ignored(dir.path + "/node_modules/x/index.js"));
  CHECK(w.ignored(dir.path + "/.git/HEAD"));
  CHECK(w.ignored(dir.path + "/logs/out.log"));     // a glob on the name
  CHECK(w.ignored(dir.path + "/src/tmp/a.js"));     // a name anywhere in the path
  CHECK(w.ignored(dir.path + "/.cache/data"));      // a regular expression
  CHECK(w.ignored(dir.path + "/app.pid"));          // pmx writes it
  CHECK_FALSE(w.ignored(dir.path + "/src/app.js"));
  CHECK_FALSE(w.ignored(dir.path + "/tmpfile.js"));
}

TEST_CASE("watch: a burst of changes makes one call, after the quiet delay", "[watch]") {
  boost::asio::io_context io;
  TempDir dir;
  REQUIRE(::mkdir((dir.path + "/sub").c_str(), 0755) == 0);
  FileWatcher::Rules rules;
  rules.roots = {dir.path};
  int calls = 0;
  std::size_t changes = 0;
  std::string first;
  FileWatcher w(io, rules, 150ms, [&](const std::string& path, std::size_t n) {
    ++calls;
    changes += n;
    if (first.empty()) first = path;
  });
  for (int i = 0; i < 50; ++i) std::ofstream(dir.path + "/sub/burst.txt", std::ios::app) << i << "\n";
  // Run the loop until the call came (or 5 s), then a little longer: no second call.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (calls == 0 && std::chrono::steady_clock::now() < deadline) io.run_for(50ms);
  io.run_for(400ms);
  CHECK(calls == 1);
  CHECK(changes >= 50);
  CHECK(first == dir.path + "/sub/burst.txt");
}

}  // namespace
}  // namespace pmx::daemon
