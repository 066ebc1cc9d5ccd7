// Tests of daemon/listeners/file_watcher.hpp: what the watch ignores, and one call per burst of changes.
#include "daemon/listeners/file_watcher.hpp"
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

TEST_CASE("watch: rules match below the watched folder, never the folders above it", "[watch][regression]") {
  boost::asio::io_context io;
  TempDir dir;
  // The watched folder sits under folders named like common rules (/tmp/..., www, srv).
  const std::string root = dir.path + "/srv/www/app";
  FileWatcher::Rules rules;
  rules.roots = {root};
  rules.ignore = {"tmp", "www", "srv", "*.log", "[/\\\\]www[/\\\\]"};
  FileWatcher w(io, rules, 100ms, [](const std::string&, std::size_t) {});
  CHECK_FALSE(w.ignored(root));
  CHECK_FALSE(w.ignored(root + "/server.js"));
  CHECK_FALSE(w.ignored(root + "/lib/db.js"));
  CHECK(w.ignored(root + "/www/index.html"));
  CHECK(w.ignored(root + "/lib/tmp"));
  CHECK(w.ignored(root + "/out.log"));
}

TEST_CASE("watch: ignore_watch expressions are compiled once, an invalid one is left to the glob checks",
          "[watch]") {
  boost::asio::io_context io;
  TempDir dir;
  FileWatcher::Rules rules;
  rules.roots = {dir.path};
  rules.ignore = {"\\.tmp$", "(unclosed", "plain", "^/build/"};
  FileWatcher w(io, rules, 100ms, [](const std::string&, std::size_t) {});
  CHECK(w.compiled_patterns() == 2);  // "\\.tmp$" and "^/build/"
  CHECK(w.ignored(dir.path + "/a/b.tmp"));
  CHECK(w.ignored(dir.path + "/build/out.js"));
  CHECK_FALSE(w.ignored(dir.path + "/src/build/out.js"));
  CHECK(w.ignored(dir.path + "/(unclosed"));  // its glob matches itself
  CHECK_FALSE(w.ignored(dir.path + "/src/main.js"));
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

/// Runs io until the watcher has made calls (or 5 s pass), then a little longer for any extra one.
int run_watch_until(boost::asio::io_context& io, const int& calls, int calls_wanted) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (calls < calls_wanted && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
  io.run_for(150ms);
  return calls;
}

TEST_CASE("watch: a single file stays watched across saves that replace it: append, rename over, vim-style, "
          "delete and recreate", "[watch][regression]") {
  boost::asio::io_context io;
  TempDir dir;
  const std::string file = dir.path + "/app.js";
  std::ofstream(file) << "v1\n";
  FileWatcher::Rules rules;
  rules.roots = {file};
  int calls = 0;
  std::string last;
  FileWatcher w(io, rules, 50ms, [&](const std::string& path, std::size_t) {
    ++calls;
    last = path;
  });
  auto replace = [&](const std::string& temp, const std::string& text) {
    std::ofstream(temp) << text;
    REQUIRE(::rename(temp.c_str(), file.c_str()) == 0);
  };

  std::ofstream(file, std::ios::app) << "appended\n";
  CHECK(run_watch_until(io, calls, 1) == 1);
  CHECK(last == file);
  // An atomic save: a new file renamed over the watched one.
  replace(dir.path + "/app.js.new", "v2\n");
  CHECK(run_watch_until(io, calls, 2) == 2);
  // Still watched afterwards (the watch was on the old inode, which the rename dropped).
  std::ofstream(file, std::ios::app) << "appended again\n";
  CHECK(run_watch_until(io, calls, 3) == 3);
  // vim's save: the text goes to a swap file beside it, then over the file.
  replace(dir.path + "/.app.js.swp", "v3\n");
  CHECK(run_watch_until(io, calls, 4) == 4);
  CHECK(last == file);
  // Deleted, then written again (one burst).
  REQUIRE(::unlink(file.c_str()) == 0);
  std::ofstream(file) << "v4\n";
  CHECK(run_watch_until(io, calls, 5) == 5);
  std::ofstream(file, std::ios::app) << "and appended\n";
  CHECK(run_watch_until(io, calls, 6) == 6);
  // Its neighbours are not watched.
  std::ofstream(dir.path + "/other.js") << "x\n";
  CHECK(run_watch_until(io, calls, 6) == 6);  // 150 ms more: three times the quiet delay
}

TEST_CASE("watch: a file root and its folder as a root: the folder is watched whole", "[watch]") {
  boost::asio::io_context io;
  TempDir dir;
  const std::string file = dir.path + "/app.js";
  std::ofstream(file) << "v1\n";
  FileWatcher::Rules rules;
  rules.roots = {file, dir.path};
  int calls = 0;
  FileWatcher w(io, rules, 50ms, [&](const std::string&, std::size_t) { ++calls; });
  std::ofstream(dir.path + "/other.js") << "x\n";
  CHECK(run_watch_until(io, calls, 1) == 1);
}

}  // namespace
}  // namespace pmx::daemon
