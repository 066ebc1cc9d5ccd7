// Tests of daemon/state/safe_path.hpp: which links a walk follows, which files it refuses, and the
// operations relative to a held folder. A folder others can write is made with mode 0777.
#include "daemon/state/safe_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {
namespace {

std::string file_text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void file_put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

/// A folder of dir with mode (umask aside).
std::string mode_folder(const test::TempDir& dir, const std::string& name, mode_t mode) {
  const std::string path = dir.path + "/" + name;
  REQUIRE(::mkdir(path.c_str(), mode) == 0);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

}  // namespace

TEST_CASE("safe_path: missing folders are made and a file opened in a private folder", "[safe_path]") {
  test::TempDir dir;
  PathError error;
  UniqueFd fd = open_file(dir.path + "/a/b/out.log", O_WRONLY | O_APPEND | O_CREAT, 0640, true, error);
  INFO(error.message());
  REQUIRE(fd);
  REQUIRE(::write(fd.get(), "x\n", 2) == 2);
  CHECK(file_text_of(dir.path + "/a/b/out.log") == "x\n");
  SafeLocation where = locate(dir.path + "/a/b/out.log", false, error);
  REQUIRE(where.dir.valid());
  CHECK(where.name == "out.log");
  CHECK(where.dir.path() == dir.path + "/a/b");
  CHECK_FALSE(where.dir.shared());
}

TEST_CASE("safe_path: a link the daemon's own user made in a private folder is followed", "[safe_path]") {
  test::TempDir dir;
  mode_folder(dir, "real", 0755);
  REQUIRE(::symlink((dir.path + "/real").c_str(), (dir.path + "/via").c_str()) == 0);
  REQUIRE(::symlink("out.log", (dir.path + "/real/current").c_str()) == 0);
  PathError error;
  UniqueFd fd = open_file(dir.path + "/via/current", O_WRONLY | O_CREAT, 0640, false, error);
  INFO(error.message());
  REQUIRE(fd);
  CHECK(::access((dir.path + "/real/out.log").c_str(), F_OK) == 0);
}

TEST_CASE("safe_path: a link in a folder others can write is refused, wherever it points", "[safe_path][regression]") {
  test::TempDir dir;
  const std::string open = mode_folder(dir, "open", 0777);
  file_put(dir.path + "/target", "precious\n");
  REQUIRE(::symlink((dir.path + "/target").c_str(), (open + "/out.log").c_str()) == 0);
  PathError error;
  UniqueFd fd = open_file(open + "/out.log", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0640, false, error);
  CHECK_FALSE(fd);
  CHECK(error.refused());
  CHECK(error.message().find("symbolic link") != std::string::npos);
  CHECK(file_text_of(dir.path + "/target") == "precious\n");

  // A folder on the way that is a link: refused as well, nothing made through it.
  const std::string elsewhere = mode_folder(dir, "elsewhere", 0755);
  REQUIRE(::symlink(elsewhere.c_str(), (open + "/logs").c_str()) == 0);
  fd = open_file(open + "/logs/out.log", O_WRONLY | O_CREAT, 0640, true, error);
  CHECK_FALSE(fd);
  CHECK(error.refused());
  CHECK(::access((elsewhere + "/out.log").c_str(), F_OK) != 0);
}

TEST_CASE("safe_path: a folder below one others can write is shared too", "[safe_path]") {
  test::TempDir dir;
  mode_folder(dir, "open", 0777);
  const std::string inner = mode_folder(dir, "open/inner", 0755);
  file_put(dir.path + "/target", "precious\n");
  REQUIRE(::symlink((dir.path + "/target").c_str(), (inner + "/out.log").c_str()) == 0);
  PathError error;
  SafeLocation where = locate(inner + "/plain.log", false, error);
  REQUIRE(where.dir.valid());
  CHECK(where.dir.shared());
  // A link, even as the last component of the path, is followed only where it is protected:
  // here it is the file found, and refused as one.
  where = locate(inner + "/out.log", false, error);
  REQUIRE(where.dir.valid());
  CHECK(where.name == "out.log");
  CHECK_FALSE(where.dir.open_file(where.name, O_WRONLY, 0, error));
  CHECK(error.refused());
  // As a folder on the way, it is refused by the walk.
  REQUIRE(::symlink(dir.path.c_str(), (inner + "/up").c_str()) == 0);
  CHECK_FALSE(locate(inner + "/up/target", false, error).dir.valid());
  CHECK(error.refused());
  CHECK(error.message().find("below " + dir.path + "/open") != std::string::npos);
  CHECK_FALSE(open_file(inner + "/out.log", O_WRONLY, 0, false, error));
  CHECK(file_text_of(dir.path + "/target") == "precious\n");
}

TEST_CASE("safe_path: a FIFO, a folder and a file with two hard links are refused, and never block",
          "[safe_path][regression]") {
  test::TempDir dir;
  REQUIRE(::mkfifo((dir.path + "/fifo").c_str(), 0600) == 0);
  mode_folder(dir, "sub", 0755);
  file_put(dir.path + "/one", "keep me\n");
  REQUIRE(::link((dir.path + "/one").c_str(), (dir.path + "/two").c_str()) == 0);
  PathError error;
  // No reader: a blocking open for writing would wait for ever.
  CHECK_FALSE(open_file(dir.path + "/fifo", O_WRONLY | O_APPEND | O_CREAT, 0640, false, error));
  CHECK(error.message().find("FIFO") != std::string::npos);
  CHECK_FALSE(open_file(dir.path + "/sub", O_RDONLY, 0, false, error));
  CHECK(error.refused());
  CHECK_FALSE(open_file(dir.path + "/two", O_WRONLY | O_TRUNC, 0, false, error));
  CHECK(error.message().find("2 hard links") != std::string::npos);
  CHECK(file_text_of(dir.path + "/one") == "keep me\n");  // O_TRUNC only after the checks
  CHECK_FALSE(open_file("/dev/null", O_WRONLY, 0, false, error));
  CHECK(error.refused());
}

TEST_CASE("safe_path: O_TRUNC empties a regular file that passed the checks", "[safe_path]") {
  test::TempDir dir;
  file_put(dir.path + "/pid", "12345\n");
  PathError error;
  UniqueFd fd = open_file(dir.path + "/pid", O_WRONLY | O_TRUNC, 0, false, error);
  REQUIRE(fd);
  CHECK(file_text_of(dir.path + "/pid").empty());
}

TEST_CASE("safe_path: a file of another user in a folder others can write is refused", "[safe_path]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot give a file to uid 4242, skipped");
    return;
  }
  test::TempDir dir;
  const std::string open = mode_folder(dir, "open", 0777);
  file_put(open + "/out.log", "");
  REQUIRE(::chown((open + "/out.log").c_str(), 4242, 4242) == 0);
  PathError error;
  CHECK_FALSE(open_file(open + "/out.log", O_WRONLY | O_APPEND, 0, false, error));
  CHECK(error.message().find("uid 4242") != std::string::npos);
  // In a folder of uid 4242, its own files are its to have.
  const std::string own = mode_folder(dir, "own", 0755);
  REQUIRE(::chown(own.c_str(), 4242, 4242) == 0);
  file_put(own + "/out.log", "");
  REQUIRE(::chown((own + "/out.log").c_str(), 4242, 4242) == 0);
  CHECK(open_file(own + "/out.log", O_WRONLY | O_APPEND, 0, false, error));
}

TEST_CASE("safe_path: temporary files get new random names, renames can keep an existing name", "[safe_path]") {
  test::TempDir dir;
  PathError error;
  SafeLocation where = locate(dir.path + "/x", false, error);
  REQUIRE(where.dir.valid());
  std::string first, second;
  UniqueFd a = where.dir.create_temp("x.gz.tmp", 0640, first, error);
  UniqueFd b = where.dir.create_temp("x.gz.tmp", 0640, second, error);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(first != second);
  CHECK(first.rfind("x.gz.tmp.", 0) == 0);
  file_put(dir.path + "/kept", "kept\n");
  CHECK(where.dir.rename(first, "kept", true) == std::errc::file_exists);
  CHECK(file_text_of(dir.path + "/kept") == "kept\n");
  CHECK_FALSE(where.dir.rename(first, "kept", false));
  REQUIRE(::symlink("kept", (dir.path + "/link").c_str()) == 0);
  auto files = where.dir.regular_files();
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"kept", second});
  CHECK_FALSE(where.dir.remove("link"));
  CHECK(::access((dir.path + "/kept").c_str(), F_OK) == 0);
}

}  // namespace pmx::daemon
