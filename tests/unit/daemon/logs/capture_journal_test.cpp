// Tests of daemon/logs/capture_journal.hpp with daemon/logs/log_pipe.hpp: what a pmxd killed in
// the middle of moving a chunk from an app's pipe to its file leaves, and how the next pmxd
// finishes it (taken back and written again whole, or left as written), with real pipes and files.
#include "daemon/logs/capture_journal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "daemon/logs/line_writer.hpp"
#include "daemon/logs/log_pipe.hpp"
#include "daemon/logs/log_sink.hpp"
#include "tests/unit/temp_dir.hpp"

namespace pmx::daemon {
namespace {

std::string journal_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void append_to(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::app) << text;
}

/// An app's pipe: the test writes, the LogPipe reads.
struct AppPipe {
  int read_end = -1;
  int write_end = -1;
  AppPipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~AppPipe() {
    if (write_end >= 0) ::close(write_end);
  }
  void write(const std::string& text) const {
    REQUIRE(::write(write_end, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
};

/// What a pmxd killed between the write of chunk and its consume leaves in the journal at path:
/// the chunk in flight, starting at `at` bytes of the file.
void leave_in_flight(const std::string& journal, const std::string& chunk, const std::string& file, std::uint64_t at) {
  LogSink sink(file);
  LineWriter writer(nullptr, nullptr);
  LineWriter::Positions p;
  p.file = sink.position();
  p.file.size = at;
  CaptureJournal j;
  REQUIRE(j.open(journal));
  j.begin(chunk.size(), CaptureJournal::hash_bytes(chunk.data(), chunk.size()), p);
}

}  // namespace

TEST_CASE("a chunk a killed pmxd wrote in part and did not consume is taken back and written again whole",
          "[logs][regression]") {
  test::TempDir dir;
  const std::string file = dir.path + "/app-out.log";
  const std::string journal = dir.path + "/0.out.journal";
  append_to(file, "line 1\n");
  AppPipe app;
  app.write("line 2\nline 3\n");
  // The dead pmxd's write stopped at a page, inside "line 3": nothing was consumed.
  leave_in_flight(journal, "line 2\nline 3\n", file, 7);
  append_to(file, "line 2\nli");

  boost::asio::io_context io;
  auto sink = std::make_shared<LogSink>(file);
  auto pipe = LogPipe::open(io, app.read_end, std::make_shared<LineWriter>(sink, nullptr), journal);
  pipe->start();
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "line 1\nline 2\nline 3\n");
  app.write("line 4\n");
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "line 1\nline 2\nline 3\nline 4\n");
  pipe->close();
}

TEST_CASE("a chunk a killed pmxd wrote whole and consumed is not written twice", "[logs][regression]") {
  test::TempDir dir;
  const std::string file = dir.path + "/app-out.log";
  const std::string journal = dir.path + "/0.out.journal";
  append_to(file, "line 1\n");
  leave_in_flight(journal, "line 2\n", file, 7);
  append_to(file, "line 2\n");
  AppPipe app;
  app.write("line 3\n");  // the pipe's head is past the chunk: it was consumed

  boost::asio::io_context io;
  auto sink = std::make_shared<LogSink>(file);
  auto pipe = LogPipe::open(io, app.read_end, std::make_shared<LineWriter>(sink, nullptr), journal);
  pipe->start();
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "line 1\nline 2\nline 3\n");
  pipe->close();
}

TEST_CASE("lines leave the pipe only once written: an unterminated line stays in the pipe until written out",
          "[logs]") {
  test::TempDir dir;
  const std::string file = dir.path + "/app-out.log";
  AppPipe app;
  app.write("whole\nhalf");
  boost::asio::io_context io;
  auto sink = std::make_shared<LogSink>(file);
  auto pipe = LogPipe::open(io, app.read_end, std::make_shared<LineWriter>(sink, nullptr), dir.path + "/0.out.journal");
  pipe->start();
  io.run_for(std::chrono::milliseconds(5));
  CHECK(journal_file_text(file) == "whole\n");
  int pending = 0;
  REQUIRE(::ioctl(app.read_end, FIONREAD, &pending) == 0);
  CHECK(pending == 4);  // "half": still the app's, for the next pmxd if this one dies now
  // Quiet for kPartialIdle: written out as it is, and only then consumed.
  io.run_for(LogPipe::kPartialIdle * 4);
  CHECK(journal_file_text(file) == "whole\nhalf");
  REQUIRE(::ioctl(app.read_end, FIONREAD, &pending) == 0);
  CHECK(pending == 0);
  app.write(" done\n");
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "whole\nhalf done\n");
  pipe->close();
}

TEST_CASE("a line a killed pmxd left unterminated is continued by its stream, then other streams' lines follow it",
          "[logs]") {
  test::TempDir dir;
  const std::string file = dir.path + "/app.log";
  const std::string journal = dir.path + "/0.out.journal";
  append_to(file, "out 1\nout 2 start");
  {
    CaptureJournal j;
    REQUIRE(j.open(journal));
    j.end(true);  // the stream's files end inside its line
  }
  AppPipe out;
  AppPipe err;
  boost::asio::io_context io;
  auto sink = std::make_shared<LogSink>(file);
  // Two streams share the file (a combined log); the dangling line is out's, as its journal says.
  auto err_pipe = LogPipe::open(io, err.read_end, std::make_shared<LineWriter>(sink, nullptr), dir.path + "/0.err.journal");
  auto out_pipe = LogPipe::open(io, out.read_end, std::make_shared<LineWriter>(sink, nullptr), journal);
  err_pipe->start();
  out_pipe->start();
  out.write(" end\n");
  io.run_for(std::chrono::milliseconds(50));
  err.write("err 1\n");
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "out 1\nout 2 start end\nerr 1\n");
  out_pipe->close();
  err_pipe->close();
}

TEST_CASE("a stream that writes nothing makes no journal file, its first chunk makes one", "[logs]") {
  // Starting 100 apps made 200 journal files before any app wrote a byte (on a filesystem where
  // each new file costs a scan of the recently deleted ones, a third of pmxd's start work).
  test::TempDir dir;
  const std::string file = dir.path + "/app-out.log";
  const std::string journal = dir.path + "/0.out.journal";
  AppPipe app;
  boost::asio::io_context io;
  auto sink = std::make_shared<LogSink>(file);
  auto pipe = LogPipe::open(io, app.read_end, std::make_shared<LineWriter>(sink, nullptr), journal);
  pipe->start();
  io.run_for(std::chrono::milliseconds(5));
  CHECK(::access(journal.c_str(), F_OK) != 0);
  pipe->settle();  // an exit with nothing written
  CHECK(::access(journal.c_str(), F_OK) != 0);
  app.write("first\n");
  io.run_for(std::chrono::milliseconds(50));
  CHECK(journal_file_text(file) == "first\n");
  REQUIRE(::access(journal.c_str(), F_OK) == 0);
  CaptureJournal::Record left{};
  {
    std::ifstream in(journal, std::ios::binary);
    in.read(reinterpret_cast<char*>(&left), sizeof left);
  }
  CHECK(left.magic == CaptureJournal::kMagic);
  CHECK(left.in_flight == 0);
  pipe->close();
  CHECK(::access(journal.c_str(), F_OK) != 0);  // removed with its instance
}

TEST_CASE("a line left unterminated when no chunk was journalled yet still makes the journal say so", "[logs]") {
  test::TempDir dir;
  const std::string journal = dir.path + "/0.out.journal";
  {
    CaptureJournal j;
    REQUIRE(j.open(journal));
    CHECK_FALSE(j.valid());
    j.end(false);
    CHECK(::access(journal.c_str(), F_OK) != 0);
    j.end(true);
    CHECK(j.valid());
  }
  CaptureJournal again;
  REQUIRE(again.open(journal));
  REQUIRE(again.record());
  CHECK(again.record()->mid_line == 1);
}

}  // namespace pmx::daemon
