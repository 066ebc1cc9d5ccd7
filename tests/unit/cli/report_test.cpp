// pmx report's error-log tail: the last lines of a file read from its end, a cut first line
// left out, and a file that cannot be read said so.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "cli/report.hpp"
#include "tests/unit/temp_dir.hpp"

using pmx::cli::last_lines;

TEST_CASE("report shows the last lines of an error log", "[report]") {
  pmx::test::TempDir dir;
  const std::string path = dir.path + "/err.log";
  std::ofstream(path) << "one\ntwo\nthree\nfour\n";
  CHECK(last_lines(path, 2) == "three\nfour");
  CHECK(last_lines(path, 10) == "one\ntwo\nthree\nfour");
  std::ofstream(path) << "no newline at the end";
  CHECK(last_lines(path, 3) == "no newline at the end");
  std::ofstream(path) << "";
  CHECK(last_lines(path, 3).empty());
}

TEST_CASE("report reads only the end of a big log, without its cut first line", "[report]") {
  pmx::test::TempDir dir;
  const std::string path = dir.path + "/big.log";
  {
    std::ofstream out(path);
    for (int i = 0; i < 100000; ++i) out << "line " << i << "\n";
  }
  CHECK(last_lines(path, 2) == "line 99998\nline 99999");
  const std::string many = last_lines(path, 1000000);
  CHECK(many.size() <= 64 * 1024);
  CHECK(many.starts_with("line "));
}

TEST_CASE("report says when an error log cannot be read", "[report]") {
  pmx::test::TempDir dir;
  CHECK(last_lines(dir.path + "/missing.log", 5).starts_with("(cannot read: "));
  CHECK(last_lines(dir.path, 5) == "(cannot read: not a regular file)");
}
