// Tests of config/utf8.hpp: well-formed sequences, and the maximal subpart of ill-formed ones.
#include "config/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pmx::config {
namespace {

std::size_t sequence_length(std::string_view s, bool& ok) {
  std::size_t len = 0;
  ok = utf8_sequence(s, 0, len);
  return len;
}

TEST_CASE("utf8_sequence: the length of each well-formed character", "[utf8]") {
  bool ok = false;
  CHECK(sequence_length("\xC3\xA9", ok) == 2);  // é
  CHECK(ok);
  CHECK(sequence_length("\xE6\x97\xA5x", ok) == 3);  // 日
  CHECK(ok);
  CHECK(sequence_length("\xF0\x9F\x98\x80", ok) == 4);  // U+1F600
  CHECK(ok);
  CHECK(sequence_length("\xF4\x8F\xBF\xBF", ok) == 4);  // U+10FFFF
  CHECK(ok);
}

TEST_CASE("utf8_sequence: ASCII, overlong forms, surrogates, cut and too-large sequences are not well formed",
          "[utf8]") {
  bool ok = true;
  CHECK(sequence_length("a", ok) == 1);
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xC0\x80", ok) == 1);  // overlong NUL
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xE0\x80\x80", ok) == 1);  // overlong: second byte out of range
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xED\xA0\x80", ok) == 1);  // a surrogate
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xF4\x90\x80\x80", ok) == 1);  // above U+10FFFF
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xE6\x97", ok) == 2);  // cut: its maximal subpart is one U+FFFD
  CHECK_FALSE(ok);
  CHECK(sequence_length("\xF0\x9F\x98x", ok) == 3);
  CHECK_FALSE(ok);
  CHECK(sequence_length("\x80", ok) == 1);  // a stray continuation byte
  CHECK_FALSE(ok);
}

TEST_CASE("valid_utf8: whole strings", "[utf8]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("READY=1"));
  CHECK(valid_utf8("STATUS=d\xC3\xA9j\xC3\xA0 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("STATUS=\xC3"));
  CHECK_FALSE(valid_utf8("STATUS=\xC0\xAF"));
  CHECK_FALSE(valid_utf8("a\xED\xB0\x80z"));
  CHECK_FALSE(valid_utf8(std::string("\xFF", 1)));
}

}  // namespace
}  // namespace pmx::config
