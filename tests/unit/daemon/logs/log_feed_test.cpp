// Tests of daemon/logs/log_feed.hpp: tail_lines (the last lines of a file, read backwards) and
// which instances a follower's selection picks.
#include "daemon/logs/log_feed.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace pmx::daemon {
namespace {

using Lines = std::vector<std::string>;

/// An anonymous in-memory file holding text (no file system touched).
class MemFile {
 public:
  explicit MemFile(const std::string& text) : fd_(::memfd_create("tail", MFD_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::write(fd_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  ~MemFile() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

TEST_CASE("tail_lines: the last n lines, oldest first", "[logs]") {
  MemFile f("a\nb\nc\nd\n");
  CHECK(tail_lines(f.fd(), 2) == Lines{"c", "d"});
  CHECK(tail_lines(f.fd(), 4) == Lines{"a", "b", "c", "d"});
  CHECK(tail_lines(f.fd(), 10) == Lines{"a", "b", "c", "d"});
  CHECK(tail_lines(f.fd(), 0).empty());
}

TEST_CASE("tail_lines: an unterminated last line counts, empty lines are kept", "[logs]") {
  MemFile f("a\n\nb\nlast");
  CHECK(tail_lines(f.fd(), 1) == Lines{"last"});
  CHECK(tail_lines(f.fd(), 3) == Lines{"", "b", "last"});
  MemFile empty("");
  CHECK(tail_lines(empty.fd(), 5).empty());
  MemFile newline("\n");
  CHECK(tail_lines(newline.fd(), 5) == Lines{""});
}

TEST_CASE("tail_lines: lines across the 64 KiB blocks read backwards", "[logs]") {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";  // ~200 KB
  MemFile f(text);
  auto last = tail_lines(f.fd(), 15000);
  REQUIRE(last.size() == 15000);
  CHECK(last.front() == "line 5000");
  CHECK(last.back() == "line 19999");
}

TEST_CASE("tail_lines: at most max_bytes are read, and no partial first line is shown", "[logs]") {
  MemFile f("0123456789\nabcdefghij\nxyz\n");
  // 10 bytes from the end: "ghij\nxyz\n" and a piece of "abcdefghij", which is left out.
  CHECK(tail_lines(f.fd(), 10, 10) == Lines{"xyz"});
  CHECK(tail_lines(f.fd(), 10, 1000) == Lines{"0123456789", "abcdefghij", "xyz"});
}

TEST_CASE("LogSelection: ids now, and all, names or namespaces for instances added later", "[logs]") {
  LogSelection s;
  s.ids = {3};
  CHECK(s.wants(3, "api", "default"));
  CHECK_FALSE(s.wants(4, "api", "default"));
  s.names = {"api"};
  CHECK(s.wants(4, "api", "default"));
  s.namespaces = {"prod"};
  CHECK(s.wants(5, "worker", "prod"));
  CHECK_FALSE(s.wants(6, "worker", "default"));
  s.all = true;
  CHECK(s.wants(6, "worker", "default"));
  s.err = false;
  CHECK(s.wants(Stream::Out));
  CHECK_FALSE(s.wants(Stream::Err));
}

}  // namespace pmx::daemon
