// Tests of daemon/logs/tail_reader.hpp and logs_reply.hpp: the tail located a block per step,
// and the `logs` result written in parts that together are the JSON the reply always was.
#include "daemon/logs/logs_reply.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/logs/log_feed.hpp"

namespace pmx::daemon {
namespace {

using json = nlohmann::json;

/// An anonymous in-memory file holding text (no file system touched).
class TailMemFile {
 public:
  explicit TailMemFile(const std::string& text) : fd_(::memfd_create("reply", MFD_CLOEXEC)) {
    REQUIRE(fd_.valid());
    REQUIRE(::write(fd_.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  int fd() const { return fd_.get(); }
  /// A descriptor of its own for a TailFile.
  UniqueFd dup() const { return UniqueFd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0)); }

 private:
  UniqueFd fd_;
};

struct Streamed {
  std::vector<std::string> parts;
  bool ended = false;
  std::string text() const {
    std::string all;
    for (const auto& p : parts) all += p;
    return all;
  }
};

/// Runs a LogsReply to its end on io, the way a session pulls it: the next part once the one
/// before is taken.
Streamed stream_all(boost::asio::io_context& io, json ids, std::vector<TailFile> files, TailLimits limits) {
  auto reply = std::make_shared<LogsReply>(io, std::move(ids), std::move(files), limits);
  auto next = reply->producer();
  reply.reset();
  Streamed out;
  bool asked = false;
  Session::PartSink emit = [&](std::string part, bool last) {
    out.parts.push_back(std::move(part));
    out.ended = last;
    asked = false;
  };
  while (!out.ended) {
    if (!asked) {
      asked = true;
      next(emit);
      continue;
    }
    io.restart();
    REQUIRE(io.run_one() == 1);  // a posted step of a search
  }
  return out;
}

TailFile tail_file(const TailMemFile& f, const std::string& path) {
  TailFile file;
  file.entry = {{"path", path}, {"ids", {0}}, {"name", "api"}, {"type", "out"}};
  file.fd = f.dup();
  struct stat st{};
  REQUIRE(::fstat(file.fd.get(), &st) == 0);
  file.size = st.st_size;
  return file;
}

}  // namespace

TEST_CASE("TailReader: a tail deeper than one block is located over several steps", "[logs]") {
  std::string text;
  for (int i = 0; i < 40000; ++i) text += "line " + std::to_string(i) + "\n";
  TailMemFile f(text);
  TailReader reader(f.fd(), static_cast<off_t>(text.size()), 30000, 8 * 1024 * 1024);
  int steps = 1;
  while (!reader.locate_step()) ++steps;
  CHECK(steps > 3);
  REQUIRE(reader.has_lines());
  std::string tail;
  std::string block;
  while (reader.read_next(block)) {
    CHECK(block.size() <= TailReader::kBlock);
    tail += block;
  }
  CHECK(tail.starts_with("line 10000\n"));
  CHECK(tail.ends_with("line 39999"));
}

TEST_CASE("TailReader: lines written after the size taken are not part of the tail", "[logs]") {
  TailMemFile f("a\nb\n");
  TailReader reader(f.fd(), 4, 10, 1024);
  REQUIRE(::write(f.fd(), "c\n", 2) == 2);
  while (!reader.locate_step()) {
  }
  std::string block;
  REQUIRE(reader.read_next(block));
  CHECK(block == "a\nb");
}

TEST_CASE("LogsReply: the parts make the JSON of the tails, each part bounded", "[logs]") {
  boost::asio::io_context io;
  std::string text;
  // Multi-byte characters everywhere, so that blocks end inside them, and control characters.
  for (int i = 0; i < 20000; ++i) text += "é ligne " + std::to_string(i) + " \x01 \"q\" ✓\n";
  TailMemFile out(text);
  TailMemFile err("only\nthree\nlines");
  std::vector<TailFile> files;
  files.push_back(tail_file(out, "/l/api-out.log"));
  files.push_back(tail_file(err, "/l/api-error.log"));
  TailLimits limits;
  limits.lines = 15000;
  limits.part = 16 * 1024;
  auto streamed = stream_all(io, json::array({0}), std::move(files), limits);
  CHECK(streamed.parts.size() > 5);
  for (const auto& p : streamed.parts) CHECK(p.size() < limits.part + 6 * TailReader::kBlock);
  json result = json::parse(streamed.text(), nullptr, false);
  REQUIRE_FALSE(result.is_discarded());
  CHECK(result["ids"] == json::array({0}));
  REQUIRE(result["files"].size() == 2);
  CHECK(result["files"][0]["path"] == "/l/api-out.log");
  CHECK(result["files"][0]["lines"] == json(tail_lines(out.fd(), 15000)));
  CHECK(result["files"][1]["lines"] == json::array({"only", "three", "lines"}));
  CHECK(result["files"][1]["type"] == "out");
}

TEST_CASE("LogsReply: the byte caps per file and per request, no lines and empty files", "[logs]") {
  boost::asio::io_context io;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "0123456789\n";  // 11 bytes a line
  TailMemFile a(text), b(text), empty(""), newline("\n");
  std::vector<TailFile> files;
  files.push_back(tail_file(a, "a"));
  files.push_back(tail_file(b, "b"));
  files.push_back(tail_file(empty, "e"));
  files.push_back(tail_file(newline, "n"));
  TailFile none;
  none.entry = {{"path", "x"}};
  files.push_back(std::move(none));
  TailLimits limits;
  limits.lines = 1'000'000'000;
  limits.per_file = 1100;
  limits.per_request = 1650;
  auto streamed = stream_all(io, json::array(), std::move(files), limits);
  json result = json::parse(streamed.text(), nullptr, false);
  REQUIRE_FALSE(result.is_discarded());
  REQUIRE(result["files"].size() == 5);
  CHECK(result["files"][0]["lines"] == json(tail_lines(a.fd(), 1'000'000'000, 1100)));
  CHECK(result["files"][0]["lines"].size() == 99);
  // What is left of the request's budget: 1650 - 99 * 11.
  CHECK(result["files"][1]["lines"] == json(tail_lines(b.fd(), 1'000'000'000, 1650 - 99 * 11)));
  CHECK(result["files"][2]["lines"] == json::array());
  CHECK(result["files"][3]["lines"] == json::array({""}));
  CHECK(result["files"][4]["lines"] == json::array());
}

TEST_CASE("json_string_body escapes quotes and control bytes and replaces what is not UTF-8", "[logs]") {
  CHECK(json_string_body("a\"b\\c\x01") == "a\\\"b\\\\c\\u0001");
  CHECK(json_string_body("\xff") == "\xEF\xBF\xBD");
  CHECK(json_string_body("é") == "é");
}

}  // namespace pmx::daemon
