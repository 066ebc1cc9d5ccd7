// Typed JSON accessors: a member of the wrong type is absent (lenient) or an error naming what it
// must be (strict); nothing throws, whatever the value.
#include <catch2/catch.hpp>

#include <limits>

#include "config/json_access.hpp"

using nlohmann::json;
using namespace pmx::config;

TEST_CASE("json access: lenient reads give the value of the right type, else nothing", "[json_access]") {
  const json j = json::parse(R"({"s":"text","b":true,"i":-3,"u":18446744073709551615,"f":1.5,"o":{},"a":[],"n":null})");
  CHECK(string_at(j, "s") == "text");
  CHECK_FALSE(string_at(j, "i"));
  CHECK_FALSE(string_at(j, "missing"));
  CHECK(bool_at(j, "b") == true);
  CHECK_FALSE(bool_at(j, "s"));
  CHECK(int_at(j, "i") == -3);
  CHECK_FALSE(int_at(j, "i", 0));
  CHECK_FALSE(int_at(j, "u"));  // above int64
  CHECK_FALSE(int_at(j, "f"));
  CHECK_FALSE(int_at(j, "b"));
  CHECK(object_at(j, "o") != nullptr);
  CHECK(object_at(j, "a") == nullptr);
  CHECK(array_at(j, "a") != nullptr);
  CHECK(member(j, "n") != nullptr);
  // Not an object at all: nothing, no exception.
  for (const json& other : {json(1), json("s"), json::array({1}), json()}) {
    CHECK(member(other, "s") == nullptr);
    CHECK_FALSE(string_at(other, "s"));
    CHECK_FALSE(int_at(other, "s"));
  }
}

TEST_CASE("json access: strict reads tell absent from wrong", "[json_access]") {
  const json j = json::parse(R"({"s":"text","b":false,"i":7,"n":null,"o":{"k":1}})");
  auto follow = bool_field(j, "b");
  REQUIRE(follow);
  CHECK(*follow == false);
  auto absent = bool_field(j, "missing");
  REQUIRE(absent);
  CHECK_FALSE(absent->has_value());
  auto null = bool_field(j, "n");  // null counts as unset
  REQUIRE(null);
  CHECK_FALSE(null->has_value());
  auto wrong = bool_field(j, "s");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == "must be true or false");
  CHECK(string_field(j, "i").error() == "must be a string");
  CHECK(int_field(j, "i", 0, 5).error() == "must be an integer between 0 and 5");
  CHECK(int_field(j, "s", 0).error() == "must be an integer >= 0");
  CHECK(**int_field(j, "i", 0) == 7);
  CHECK(object_field(j, "s").error() == "must be an object");
  CHECK(*object_field(j, "o") != nullptr);
  CHECK(array_field(j, "o").error() == "must be a list");
  CHECK(*array_field(j, "missing") == nullptr);
}
