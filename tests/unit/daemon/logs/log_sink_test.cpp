// Tests of daemon/logs/log_sink.hpp and daemon/logs/log_housekeeper.hpp where the log's folder is one that
// others can write (mode 0777 here, an app's own folder in life): a refused path and its
// fallback, a FIFO in the log's place, links planted at the names compression writes.
#include "daemon/logs/log_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/logs/log_housekeeper.hpp"
#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {
namespace {

std::string sink_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A folder of dir that anyone can write.
std::string open_folder(const test::TempDir& dir, const std::string& name) {
  const std::string path = dir.path + "/" + name;
  REQUIRE(::mkdir(path.c_str(), 0777) == 0);
  REQUIRE(::chmod(path.c_str(), 0777) == 0);
  return path;
}

struct Reports {
  std::vector<std::string> lines;
  LogSink::Report report() {
    return [this](bool, const std::string& text) { lines.push_back(text); };
  }
  std::size_t mentioning(const std::string& part) const {
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(part) != std::string::npos;
    return n;
  }
};

}  // namespace

TEST_CASE("a log path that is a planted link goes to the fallback, reported once", "[log_sink][regression]") {
  test::TempDir dir;
  const std::string open = open_folder(dir, "L");
  const std::string target = dir.path + "/target";
  std::ofstream(target) << "precious\n";
  REQUIRE(::symlink(target.c_str(), (open + "/out.log").c_str()) == 0);
  Reports reports;
  const std::string fallback = dir.path + "/refused/out.log";
  LogSink sink(open + "/out.log", reports.report(), fallback);
  sink.write("one\n", 4);
  sink.reopen();  // reloadLogs: the path is tried again, still refused
  sink.write("two\n", 4);
  CHECK(sink_file_text(target) == "precious\n");
  CHECK(sink_file_text(fallback) == "one\ntwo\n");
  CHECK(sink.writing_to() == fallback);
  CHECK(sink.error().find("symbolic link") != std::string::npos);
  CHECK(sink.dropped_bytes() == 0);
  CHECK(reports.mentioning("refused") == 1);

  // Once the link is gone the path is written again.
  REQUIRE(::unlink((open + "/out.log").c_str()) == 0);
  sink.reopen();
  sink.write("three\n", 6);
  CHECK(sink_file_text(open + "/out.log") == "three\n");
  CHECK(sink.writing_to() == open + "/out.log");
  CHECK(sink.error().empty());
}

TEST_CASE("a log path refused with no fallback drops and counts its lines", "[log_sink]") {
  test::TempDir dir;
  const std::string open = open_folder(dir, "L");
  REQUIRE(::symlink((dir.path + "/target").c_str(), (open + "/out.log").c_str()) == 0);
  Reports reports;
  LogSink sink(open + "/out.log", reports.report());
  sink.write("lost\n", 5);
  CHECK(sink.dropped_bytes() == 5);
  CHECK(::access((dir.path + "/target").c_str(), F_OK) != 0);
  CHECK(reports.mentioning("refused") == 1);
}

TEST_CASE("a log file replaced by a FIFO is refused without blocking the writer", "[log_sink][regression]") {
  test::TempDir dir;
  const std::string open = open_folder(dir, "L");
  const std::string fallback = dir.path + "/refused/out.log";
  Reports reports;
  LogSink sink(open + "/out.log", reports.report(), fallback);
  sink.write("before\n", 7);
  REQUIRE(::unlink((open + "/out.log").c_str()) == 0);
  REQUIRE(::mkfifo((open + "/out.log").c_str(), 0666) == 0);
  sink.reopen();  // a blocking open would wait here for a reader that never comes
  sink.write("after\n", 6);
  CHECK(sink_file_text(fallback) == "after\n");
  CHECK(sink.error().find("FIFO") != std::string::npos);
}

TEST_CASE("the tail reads the file the sink writes, opened for reading too", "[log_sink]") {
  test::TempDir dir;
  LogSink sink(dir.path + "/out.log");
  sink.write("a\nb\n", 4);
  REQUIRE(sink.fd() >= 0);
  char buffer[4];
  CHECK(::pread(sink.fd(), buffer, sizeof buffer, 0) == 4);
  CHECK(std::string(buffer, 4) == "a\nb\n");
}

TEST_CASE("compression never writes through a link planted at its temporary name", "[log_housekeeper][regression]") {
  test::TempDir dir;
  const std::string open = open_folder(dir, "L");
  const std::string target = dir.path + "/target";
  std::ofstream(target) << "precious\n";
  std::ofstream(open + "/out__2026-01-01_00-00-00-000.log") << "rotated lines\n";
  // The names the old scheme used, and a link at the final name.
  REQUIRE(::symlink(target.c_str(), (open + "/out__2026-01-01_00-00-00-000.log.gz.tmp").c_str()) == 0);
  PathError error;
  SafeLocation where = locate(open + "/out.log", false, error);
  REQUIRE(where.dir.valid());
  CHECK(gzip_file(where.dir, "out__2026-01-01_00-00-00-000.log", "out__2026-01-01_00-00-00-000.log.gz").empty());
  CHECK(sink_file_text(target) == "precious\n");
  const std::string gz = sink_file_text(open + "/out__2026-01-01_00-00-00-000.log.gz");
  CHECK(gz.rfind("\x1f\x8b", 0) == 0);

  // A rotated file an app replaced with a link is not read through it.
  REQUIRE(::symlink(target.c_str(), (open + "/out__2026-01-01_00-00-01-000.log").c_str()) == 0);
  const std::string failure = gzip_file(where.dir, "out__2026-01-01_00-00-01-000.log", "out__2026-01-01_00-00-01-000.log.gz");
  CHECK(failure.find("symbolic link") != std::string::npos);
  CHECK(::access((open + "/out__2026-01-01_00-00-01-000.log.gz").c_str(), F_OK) != 0);
}

}  // namespace pmx::daemon

namespace pmx::daemon {

TEST_CASE("rotations within one millisecond keep their order, also after retention removed the oldest",
          "[log_sink][regression]") {
  test::TempDir dir;
  const std::string log = dir.path + "/app-out.log";
  Reports reports;
  LogSink sink(log, reports.report());
  // A burst: many rotations far faster than one a millisecond, each file holding its number.
  auto rotate_with = [&](int n) {
    const std::string line = std::to_string(n) + "\n";
    sink.write(line.data(), line.size());
    INFO(n << ": " << (reports.lines.empty() ? std::string() : reports.lines.back()));
    REQUIRE(sink.rotate());
  };
  for (int n = 0; n < 20; ++n) rotate_with(n);
  auto rotated_in_name_order = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("app-out__", 0) == 0) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> contents;
    for (const auto& name : names) contents.push_back(sink_file_text(dir.path + "/" + name));
    return contents;
  };
  std::vector<std::string> expected;
  for (int n = 0; n < 20; ++n) expected.push_back(std::to_string(n) + "\n");
  CHECK(rotated_in_name_order() == expected);
  // Retention removes the oldest names; the stamps they held are never taken again.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("app-out__", 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (int k = 0; k < 18; ++k) REQUIRE(::unlink((dir.path + "/" + names[static_cast<std::size_t>(k)]).c_str()) == 0);
  for (int n = 20; n < 25; ++n) rotate_with(n);
  CHECK(rotated_in_name_order() == std::vector<std::string>{"18\n", "19\n", "20\n", "21\n", "22\n", "23\n", "24\n"});
  // A new sink of the same log (pmxd restarted) stamps after what the folder holds.
  LogSink again(log, reports.report());
  const std::string line = "25\n";
  again.write(line.data(), line.size());
  REQUIRE(again.rotate());
  CHECK(rotated_in_name_order().back() == "25\n");
}

}  // namespace pmx::daemon
