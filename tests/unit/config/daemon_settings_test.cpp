// Tests of config/daemon_settings.hpp: pmx.yaml's log defaults, its errors, and app overrides.
#include "config/daemon_settings.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pmx::config {
namespace {

using Catch::Matchers::Contains;

/// pmx.yaml with the given text in a fresh folder, removed at the end.
struct SettingsFile {
  explicit SettingsFile(const std::string& text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pmx-settings-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    path = dir + "/pmx.yaml";
    std::ofstream(path) << text;
  }
  ~SettingsFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir, path;
};

DaemonSettings load_ok(const std::string& text) {
  SettingsFile f(text);
  auto r = load_daemon_settings(f.path);
  INFO(text << (r ? "" : "\n-> " + r.error()));
  REQUIRE(r.ok());
  return *r;
}

/// The error of a bad file, with the temp folder replaced by "<dir>".
std::string load_error(const std::string& text) {
  SettingsFile f(text);
  auto r = load_daemon_settings(f.path);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  std::string message = r.error();
  for (std::size_t at; (at = message.find(f.dir)) != std::string::npos;) message.replace(at, f.dir.size(), "<dir>");
  return message;
}

TEST_CASE("daemon_settings: defaults without a file, or with an empty one", "[daemon_settings]") {
  const LogRotation defaults{10 * 1024 * 1024, 30, false, ""};
  auto missing = load_daemon_settings("/nonexistent-pmx-home/pmx.yaml");
  REQUIRE(missing.ok());
  CHECK(missing->app_logs == defaults);
  CHECK(missing->daemon_log == defaults);
  for (const char* text : {"", "# only a comment\n", "logs:\ndaemon_log:\n"}) {
    DaemonSettings s = load_ok(text);
    CHECK(s.app_logs == defaults);
    CHECK(s.daemon_log == defaults);
  }
}

TEST_CASE("daemon_settings: each key of each section", "[daemon_settings]") {
  DaemonSettings s = load_ok(
      "logs:                 # defaults for every app's logs\n"
      "  max_size: 10M\n"
      "  retain: 7\n"
      "  compress: true\n"
      "  rotate_interval: \"0 0 * * *\"\n"
      "daemon_log:\n"
      "  max_size: 1048576\n"
      "  retain: 0\n"
      "  rotate_interval: '@hourly'\n");
  CHECK(s.app_logs.max_size == 10u * 1024 * 1024);
  CHECK(s.app_logs.retain == 7);
  CHECK(s.app_logs.compress);
  CHECK(s.app_logs.interval == "0 0 * * *");
  CHECK(s.daemon_log.max_size == 1048576u);
  CHECK(s.daemon_log.retain == 0);
  CHECK_FALSE(s.daemon_log.compress);  // not given: the default
  CHECK(s.daemon_log.interval == "@hourly");
  // Zero turns size rotation off; "" or 0 no interval; the other spellings of booleans.
  DaemonSettings off = load_ok("logs:\n  max_size: 0\n  rotate_interval: ''\n  compress: False\n"
                               "daemon_log:\n  rotate_interval: 0\n  compress: TRUE\n  max_size: 512K\n");
  CHECK(off.app_logs.max_size == 0u);
  CHECK(off.app_logs.interval.empty());
  CHECK_FALSE(off.app_logs.compress);
  CHECK(off.daemon_log.interval.empty());
  CHECK(off.daemon_log.compress);
  CHECK(off.daemon_log.max_size == 512u * 1024);
}

TEST_CASE("daemon_settings: bad values name file:line:col and the key", "[daemon_settings]") {
  CHECK(load_error("logs:\n  max_size: 10M\n  retain: -1\n") ==
        "<dir>/pmx.yaml:3:3: logs.retain: expected a whole number >= 0 (0: keep all) up to 2147483647 (got '-1')");
  CHECK_THAT(load_error("logs:\n  retain: 99999999999\n"), Contains("pmx.yaml:2:3: logs.retain: expected a whole number"));
  CHECK_THAT(load_error("logs:\n  retain: 2.5\n"), Contains("pmx.yaml:2:3: logs.retain"));
  CHECK_THAT(load_error("daemon_log:\n  max_size: big\n"), Contains("pmx.yaml:2:3: daemon_log.max_size: "));
  CHECK_THAT(load_error("daemon_log:\n  max_size: 2000000G\n"), Contains("pmx.yaml:2:3: daemon_log.max_size: "));
  CHECK_THAT(load_error("logs:\n  max_size: [1, 2]\n"), Contains("pmx.yaml:2:3: logs.max_size: expected a size"));
  CHECK_THAT(load_error("logs:\n  compress: yes\n"),
             Contains("pmx.yaml:2:3: logs.compress: expected true or false (got 'yes')"));
  CHECK_THAT(load_error("logs:\n\n  rotate_interval: '0 25 * * *'\n"), Contains("pmx.yaml:3:3: logs.rotate_interval: "));
  CHECK_THAT(load_error("logs:\n  rotate_interval: 1h\n"), Contains("pmx.yaml:2:3: logs.rotate_interval: "));
  CHECK_THAT(load_error("logs:\n  retain:\n"), Contains("pmx.yaml:2:3: logs.retain: expected a whole number"));
  CHECK_THAT(load_error("logs: 5\n"), Contains("pmx.yaml:1:7: logs: expected a map"));
  CHECK_THAT(load_error("- logs\n"), Contains("pmx.yaml:1:1: expected a map of sections"));
  // Every error, one line each.
  CHECK(load_error("logs:\n  retain: x\ndaemon_log:\n  compress: 2\n") ==
        "<dir>/pmx.yaml:2:3: logs.retain: expected a whole number >= 0 (0: keep all) up to 2147483647 (got 'x')\n"
        "<dir>/pmx.yaml:4:3: daemon_log.compress: expected true or false (got '2')");
}

TEST_CASE("daemon_settings: metrics.listen is the Prometheus endpoint address, none or an empty one is off",
          "[daemon_settings][metrics]") {
  auto off = parse_daemon_settings("logs: {}\n", "pmx.yaml");
  REQUIRE(off);
  CHECK_FALSE(off->metrics_listen);
  auto tcp = parse_daemon_settings("metrics:\n  listen: \"127.0.0.1:9615\"\n", "pmx.yaml");
  REQUIRE(tcp);
  REQUIRE(tcp->metrics_listen);
  CHECK(tcp->metrics_listen->text() == "127.0.0.1:9615");
  auto unix_socket = parse_daemon_settings("metrics: {listen: \"unix:/run/pmx-metrics.sock\"}\n", "pmx.yaml");
  REQUIRE(unix_socket);
  CHECK(unix_socket->metrics_listen->text() == "unix:/run/pmx-metrics.sock");
  auto empty = parse_daemon_settings("metrics: {listen: \"\"}\n", "pmx.yaml");
  REQUIRE(empty);
  CHECK_FALSE(empty->metrics_listen);
  CHECK_THAT(load_error("metrics:\n  listen: \"127.0.0.1:99999\"\n"), Contains("pmx.yaml:2:3: metrics.listen: "));
  CHECK_THAT(load_error("metrics:\n  listen: [1]\n"), Contains("pmx.yaml:2:3: metrics.listen: expected an address"));
  CHECK_THAT(load_error("metrics:\n  lsten: x\n"), Contains("metrics: unknown key 'lsten' (did you mean 'listen'?)"));
  CHECK_THAT(load_error("metrics: 3\n"), Contains("metrics: expected a map with listen"));
}

TEST_CASE("daemon_settings: YAML syntax errors have their place", "[daemon_settings]") {
  CHECK_THAT(load_error("logs:\n  retain: [1\n"), Contains("pmx.yaml:3:1: "));
  CHECK_THAT(load_error("logs:\n  max_size: 1M\n    retain: 3\n"), Contains("pmx.yaml:3:"));
}

TEST_CASE("daemon_settings: unknown keys are errors with a suggestion", "[daemon_settings]") {
  CHECK(load_error("logs:\n  retian: 3\n") == "<dir>/pmx.yaml:2:3: logs: unknown key 'retian' (did you mean 'retain'?)");
  CHECK(load_error("logs:\n  log_max_size: 3M\n") ==
        "<dir>/pmx.yaml:2:3: logs: unknown key 'log_max_size' (did you mean 'max_size'?)");
  CHECK(load_error("daemon_log:\n  compresss: true\n") ==
        "<dir>/pmx.yaml:2:3: daemon_log: unknown key 'compresss' (did you mean 'compress'?)");
  CHECK(load_error("daemon_log:\n  colour: red\n") == "<dir>/pmx.yaml:2:3: daemon_log: unknown key 'colour'");
  CHECK(load_error("log:\n  retain: 3\n") ==
        "<dir>/pmx.yaml:1:1: unknown section 'log' (did you mean 'logs'?) (known: logs, daemon_log, metrics)");
  CHECK(load_error("daemon_logs: {}\n") ==
        "<dir>/pmx.yaml:1:1: unknown section 'daemon_logs' (did you mean 'daemon_log'?) (known: logs, daemon_log, metrics)");
}

TEST_CASE("daemon_settings: a file that cannot be read is an error, not the defaults", "[daemon_settings]") {
  SettingsFile f("");
  // A folder where the file should be.
  auto r = load_daemon_settings(f.dir);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("not a regular file"));
  auto through_file = load_daemon_settings(f.path + "/pmx.yaml");  // a path through a file
  CHECK_FALSE(through_file.ok());
}

TEST_CASE("daemon_settings: an app's own options override the defaults one by one", "[daemon_settings]") {
  const LogRotation defaults{10 * 1024 * 1024, 30, true, "0 0 * * *"};
  AppSpec spec;
  CHECK(rotation_for(spec, defaults) == defaults);
  spec.log_retain = 5;
  LogRotation r = rotation_for(spec, defaults);
  CHECK(r.retain == 5);
  CHECK(r.max_size == defaults.max_size);
  CHECK(r.compress);
  CHECK(r.interval == "0 0 * * *");
  spec.log_max_size = 0;
  spec.log_compress = false;
  spec.log_rotate_interval = "";
  r = rotation_for(spec, defaults);
  CHECK(r == LogRotation{0, 5, false, ""});
}

}  // namespace
}  // namespace pmx::config
