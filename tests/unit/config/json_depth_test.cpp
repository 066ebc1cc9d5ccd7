// Tests of config/json_depth.hpp: nesting is counted outside strings, without recursion.
#include "config/json_depth.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pmx::config {
namespace {

std::string nested(std::size_t levels, char open = '[', char close = ']') {
  return std::string(levels, open) + std::string(levels, close);
}

TEST_CASE("json_depth counts arrays and objects, not brackets inside strings", "[json_depth]") {
  CHECK(json_depth("1") == 0);
  CHECK(json_depth("{}") == 1);
  CHECK(json_depth(R"({"a":[{"b":[]}],"c":{}})") == 4);
  CHECK(json_depth(R"({"a":"[[[[[[{{{{"})") == 1);
  CHECK(json_depth(R"({"a":"\"[[[[","b":"\\"})") == 1);
  CHECK(json_depth(R"(["\\\"[[[["])") == 1);
  CHECK(json_depth(nested(64)) == 64);
  CHECK(json_depth(nested(65)) == 65);
  // Counting stops past the limit: a megabyte of '[' costs one pass and no memory.
  CHECK(json_depth(std::string(1 << 20, '['), 64) == 65);
}

TEST_CASE("check_json_depth accepts 64 levels and refuses 65", "[json_depth]") {
  CHECK(check_json_depth(nested(kMaxJsonDepth)).ok());
  auto deep = check_json_depth(nested(kMaxJsonDepth + 1, '{', '}'));
  REQUIRE_FALSE(deep.ok());
  CHECK_THAT(deep.error(), Catch::Matchers::Contains("nested deeper than 64 levels"));
  CHECK_FALSE(check_json_depth(std::string(400000, '[')).ok());
}

}  // namespace
}  // namespace pmx::config

TEST_CASE("json_string_end finds the quote that closes a string, past escaped quotes and backslashes",
          "[json_depth]") {
  using pmx::config::json_string_end;
  const std::string_view text = R"({"a\"b":"c\\","d":"unclosed)";
  CHECK(json_string_end(text, 1) == 7);    // "a\"b" ends before the colon
  CHECK(text[json_string_end(text, 1)] == ':');
  CHECK(json_string_end(text, 8) == 13);   // "c\\" ends before the comma
  CHECK(text[json_string_end(text, 8)] == ',');
  CHECK(json_string_end(text, 18) == text.size());  // never closed
}
