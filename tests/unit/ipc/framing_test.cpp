// Tests of ipc/framing.hpp: LineBuffer turning a byte stream into capped lines.
#include "ipc/framing.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

namespace pmx::ipc {
namespace {

std::vector<std::string> drain(LineBuffer& b) {
  std::vector<std::string> lines;
  while (auto line = b.next_line()) lines.push_back(*line);
  return lines;
}

using Lines = std::vector<std::string>;

TEST_CASE("LineBuffer: nothing comes out before a newline", "[framing]") {
  LineBuffer b(64);
  CHECK_FALSE(b.next_line().has_value());
  b.append("abc");
  CHECK_FALSE(b.next_line().has_value());
  CHECK(b.pending() == 3);
  CHECK_FALSE(b.overflowed());
}

TEST_CASE("LineBuffer: one line in one chunk", "[framing]") {
  LineBuffer b(64);
  b.append("{\"a\":1}\n");
  CHECK(drain(b) == Lines{"{\"a\":1}"});
  CHECK(b.pending() == 0);
}

TEST_CASE("LineBuffer: several lines in one chunk", "[framing]") {
  LineBuffer b(64);
  b.append("one\ntwo\nthree\npart");
  CHECK(drain(b) == Lines{"one", "two", "three"});
  CHECK(b.pending() == 4);
  b.append("ial\n");
  CHECK(drain(b) == Lines{"partial"});
  CHECK(b.pending() == 0);
}

TEST_CASE("LineBuffer: a line split across chunk boundaries", "[framing]") {
  LineBuffer b(64);
  b.append("hel");
  CHECK_FALSE(b.next_line().has_value());
  b.append("lo wo");
  CHECK_FALSE(b.next_line().has_value());
  b.append("rld");
  CHECK_FALSE(b.next_line().has_value());
  b.append("\nnext");
  CHECK(drain(b) == Lines{"hello world"});
  b.append("\n");
  CHECK(drain(b) == Lines{"next"});
}

TEST_CASE("LineBuffer: byte-by-byte feeding gives the same lines", "[framing]") {
  const std::string stream = "alpha\r\nbeta\n\ngamma\n";
  LineBuffer b(16);
  Lines got;
  for (char c : stream) {
    b.append(std::string_view(&c, 1));
    for (auto& l : drain(b)) got.push_back(l);
  }
  CHECK(got == Lines{"alpha", "beta", "", "gamma"});
  CHECK_FALSE(b.overflowed());
  CHECK(b.pending() == 0);
}

TEST_CASE("LineBuffer: CRLF endings lose the CR, even when split", "[framing]") {
  LineBuffer b(64);
  b.append("a\r\nb\r");
  CHECK(drain(b) == Lines{"a"});
  b.append("\n");
  CHECK(drain(b) == Lines{"b"});
  // Only one trailing \r goes; others and inner ones stay.
  b.append("c\r\r\nd\re\n");
  CHECK(drain(b) == Lines{"c\r", "d\re"});
}

TEST_CASE("LineBuffer: empty lines come out as empty strings", "[framing]") {
  LineBuffer b(64);
  b.append("\n\r\n\nx\n");
  CHECK(drain(b) == Lines{"", "", "", "x"});
}

TEST_CASE("LineBuffer: a line of exactly the cap is accepted", "[framing]") {
  LineBuffer b(8);
  b.append(std::string(8, 'x'));
  CHECK_FALSE(b.next_line().has_value());
  CHECK_FALSE(b.overflowed());
  b.append("\n");
  CHECK(drain(b) == Lines{std::string(8, 'x')});
  CHECK_FALSE(b.overflowed());
}

TEST_CASE("LineBuffer: a line above the cap with its newline overflows", "[framing]") {
  LineBuffer b(8);
  b.append("ok\n" + std::string(9, 'x') + "\nafter\n");
  CHECK(b.next_line() == std::optional<std::string>("ok"));
  CHECK_FALSE(b.next_line().has_value());
  CHECK(b.overflowed());
  // No more lines after an overflow, even complete ones, even newly appended ones.
  CHECK_FALSE(b.next_line().has_value());
  b.append("more\n");
  CHECK_FALSE(b.next_line().has_value());
  CHECK(b.overflowed());
}

TEST_CASE("LineBuffer: a partial line above the cap overflows without a newline", "[framing]") {
  LineBuffer b(8);
  b.append(std::string(5, 'x'));
  CHECK_FALSE(b.next_line().has_value());
  CHECK_FALSE(b.overflowed());
  b.append(std::string(4, 'x'));
  CHECK_FALSE(b.next_line().has_value());
  CHECK(b.overflowed());
  b.append("\n");
  CHECK_FALSE(b.next_line().has_value());
}

TEST_CASE("LineBuffer: appends after an overflow are dropped", "[framing]") {
  LineBuffer b(4);
  b.append("12345");
  CHECK_FALSE(b.next_line().has_value());
  REQUIRE(b.overflowed());
  const std::size_t held = b.pending();
  b.append(std::string(1000, 'y'));
  CHECK(b.pending() == held);
}

TEST_CASE("LineBuffer: the cap applies per line, not to the whole stream", "[framing]") {
  LineBuffer b(10);
  std::size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string line = "line" + std::to_string(i % 100);
    b.append(line + "\n");
    auto got = b.next_line();
    REQUIRE(got.has_value());
    CHECK(*got == line);
    total += line.size() + 1;
  }
  CHECK(total > 1000);
  CHECK_FALSE(b.overflowed());
  CHECK(b.pending() == 0);
}

TEST_CASE("LineBuffer: binary bytes and NULs pass through", "[framing]") {
  LineBuffer b(16);
  const std::string line("a\0b\xff", 4);
  b.append(line + "\n");
  auto got = b.next_line();
  REQUIRE(got.has_value());
  CHECK(*got == line);
}

}  // namespace
}  // namespace pmx::ipc
