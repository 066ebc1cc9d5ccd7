// Tests of config/rotated_logs.hpp: rotated file names, which files are a log's rotations.
#include "config/rotated_logs.hpp"

#include <catch2/catch.hpp>

#include "time_points.hpp"
#include "tests/unit/temp_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

namespace pmx::config {
namespace {

using pmx::test::utc;

/// A fresh folder under TMPDIR, removed at the end.
using pmx::test::TempDir;

const auto kT = utc(2026, 11, 27, 10, 0, 0, 123);

TEST_CASE("rotated_logs: the name carries a UTC stamp before .log", "[rotated_logs]") {
  CHECK(rotated_name("/d/app-out.log", kT) == "/d/app-out__2026-11-27_10-00-00-123.log");
  CHECK(rotated_name("/d/x.txt", kT) == "/d/x.txt__2026-11-27_10-00-00-123");
  CHECK(rotated_name("/d/noext", kT) == "/d/noext__2026-11-27_10-00-00-123");
  CHECK(rotated_name("/d.log/app", kT) == "/d.log/app__2026-11-27_10-00-00-123");  // the folder's ".log" is not it
  CHECK(rotated_name("app.log", kT) == "app__2026-11-27_10-00-00-123.log");
  CHECK(rotated_name("/d/a.log", utc(2027, 1, 2, 3, 4, 5, 6)) == "/d/a__2027-01-02_03-04-05-006.log");
  // Sub-millisecond parts are dropped, not rounded.
  CHECK(rotated_name("/d/a.log", kT + std::chrono::microseconds(999)) == "/d/a__2026-11-27_10-00-00-123.log");
}

TEST_CASE("rotated_logs: the stamp is UTC whatever TZ says", "[rotated_logs]") {
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
  ::tzset();
  const std::string name = rotated_name("/d/a.log", kT);
  if (old) ::setenv("TZ", saved.c_str(), 1);
  else ::unsetenv("TZ");
  ::tzset();
  CHECK(name == "/d/a__2026-11-27_10-00-00-123.log");
}

TEST_CASE("rotated_logs: names sort in time order", "[rotated_logs]") {
  const std::string a = rotated_name("/d/a.log", utc(2026, 9, 30, 23, 59, 59, 999));
  const std::string b = rotated_name("/d/a.log", utc(2026, 10, 1, 0, 0, 0, 0));
  const std::string c = rotated_name("/d/a.log", utc(2026, 10, 1, 0, 0, 0, 1));
  CHECK(a < b);
  CHECK(b < c);
}

TEST_CASE("rotated_logs: which names are rotations of a log file", "[rotated_logs]") {
  const std::string log = "/d/app-out.log";
  CHECK(is_rotated_of(log, "app-out__2026-11-27_10-00-00-123.log"));
  CHECK(is_rotated_of(log, "app-out__2026-11-27_10-00-00-123.log.gz"));
  CHECK_FALSE(is_rotated_of(log, "app-out.log"));
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27_10-00-00-123"));       // no .log
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27_10-00-00-123.log.gz.gz"));
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27_10-00-00-12.log"));    // a digit short
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27_10-00-00-1234.log"));
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27 10-00-00-123.log"));   // wrong separator
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-2x_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of(log, "app-out_2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of(log, "app-out__2026-11-27_10-00-00-123.txt"));
  CHECK_FALSE(is_rotated_of(log, "xapp-out__2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of(log, ""));
  // Other apps whose names share a prefix (pm2-logrotate deletes those).
  CHECK_FALSE(is_rotated_of("/d/app.log", "app-out__2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of("/d/ap.log", "app-out__2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of("/d/app-out.log", "app-out-1__2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of("/d/app-out-1.log", "app-out__2026-11-27_10-00-00-123.log"));
  // Without .log.
  CHECK(is_rotated_of("/d/x.txt", "x.txt__2026-11-27_10-00-00-123"));
  CHECK(is_rotated_of("/d/x.txt", "x.txt__2026-11-27_10-00-00-123.gz"));
  CHECK_FALSE(is_rotated_of("/d/x.txt", "x.txt__2026-11-27_10-00-00-123.log"));
  CHECK_FALSE(is_rotated_of("/d/x", "x.txt__2026-11-27_10-00-00-123"));
  // Every name rotated_name makes is one.
  CHECK(is_rotated_of(log, rotated_name(log, kT).substr(3)));
  CHECK(is_rotated_of("/d/x.txt", rotated_name("/d/x.txt", kT).substr(3)));
}

TEST_CASE("rotated_logs: rotated_files lists one log's rotations, oldest first", "[rotated_logs]") {
  TempDir dir;
  const std::string log = dir.path + "/app-out.log";
  dir.touch("app-out.log");
  dir.touch("app-out__2026-11-27_10-00-00-123.log.gz");
  dir.touch("app-out__2025-01-01_00-00-00-000.log");
  dir.touch("app-out__2026-11-27_10-00-00-124.log");
  dir.touch("app-out__2026-11-27_09-59-59-999.log.gz");
  // Not this log's: another app's, the error log, a stray file, a folder with the right name.
  dir.touch("app-out-1__2026-11-27_10-00-00-123.log");
  dir.touch("app-error__2026-11-27_10-00-00-123.log");
  dir.touch("app-out__notes.log");
  REQUIRE(std::filesystem::create_directory(dir.path + "/app-out__2026-11-27_11-00-00-000.log"));
  const std::vector<std::string> expected = {
      dir.path + "/app-out__2025-01-01_00-00-00-000.log",
      dir.path + "/app-out__2026-11-27_09-59-59-999.log.gz",
      dir.path + "/app-out__2026-11-27_10-00-00-123.log.gz",
      dir.path + "/app-out__2026-11-27_10-00-00-124.log",
  };
  CHECK(rotated_files(log) == expected);
  CHECK(rotated_files(dir.path + "/app.log").empty());
  CHECK(rotated_files(dir.path + "/missing/app-out.log").empty());
}

TEST_CASE("rotated_logs: the stamp of a rotated name reads back, compressed or not", "[rotated_logs]") {
  CHECK(rotated_stamp(rotated_name("/d/app-out.log", kT)) == kT);
  CHECK(rotated_stamp("app-out__2026-11-27_10-00-00-123.log.gz") == kT);
  CHECK(rotated_stamp("/d/x.txt__2026-11-27_10-00-00-123") == kT);
  CHECK(rotated_stamp("app-out__2026-11-27_10-00-01-000.log") == utc(2026, 11, 27, 10, 0, 1, 0));
  CHECK_FALSE(rotated_stamp("app-out.log"));
  CHECK_FALSE(rotated_stamp("app-out__2026-11-27_10-00-00-12x.log"));
  CHECK_FALSE(rotated_stamp("app-out_2026-11-27_10-00-00-123.log"));
}

}  // namespace
}  // namespace pmx::config
