// The count of `pmx scale`: "N" sets, "+N" adds, "-N" removes; at least 1, at most 4096.
#include <catch2/catch.hpp>

#include "config/scale_count.hpp"

using pmx::config::kMaxInstances;
using pmx::config::parse_scale_count;
using pmx::config::ScaleCount;

TEST_CASE("scale count: N sets the total, +N adds, -N removes", "[config][scale]") {
  auto set = parse_scale_count("4");
  REQUIRE(set);
  CHECK(set->kind == ScaleCount::Kind::Set);
  CHECK(set->n == 4);
  CHECK(*set->total(2) == 4);

  auto add = parse_scale_count("+2");
  REQUIRE(add);
  CHECK(add->kind == ScaleCount::Kind::Add);
  CHECK(*add->total(3) == 5);

  auto remove = parse_scale_count("-1");
  REQUIRE(remove);
  CHECK(remove->kind == ScaleCount::Kind::Remove);
  CHECK(*remove->total(3) == 2);

  CHECK(*parse_scale_count("007")->total(1) == 7);
  CHECK(*parse_scale_count("4096")->total(1) == kMaxInstances);
}

TEST_CASE("scale count: +0 and -0 change nothing, and are no error", "[config][scale]") {
  CHECK(*parse_scale_count("+0")->total(3) == 3);
  CHECK(*parse_scale_count("-0")->total(3) == 3);
}

TEST_CASE("scale count: 0 is refused, an app keeps at least 1 instance", "[config][scale]") {
  auto zero = parse_scale_count("0");
  REQUIRE_FALSE(zero);
  CHECK(zero.error() == "an app keeps at least 1 instance; use pmx stop or pmx delete");
  REQUIRE_FALSE(parse_scale_count("000"));
}

TEST_CASE("scale count: -N that would leave no instance is refused, naming the current count", "[config][scale]") {
  auto all = parse_scale_count("-2");
  REQUIRE(all);
  auto total = all->total(2);
  REQUIRE_FALSE(total);
  CHECK(total.error() == "the app has 2 instances; an app keeps at least 1 instance; use pmx stop or pmx delete");
  auto one = parse_scale_count("-5")->total(1);
  REQUIRE_FALSE(one);
  CHECK(one.error().find("the app has 1 instance;") == 0);
  CHECK(*parse_scale_count("-1")->total(2) == 1);
}

TEST_CASE("scale count: above 4096 in all is refused", "[config][scale]") {
  for (const char* text : {"4097", "99999", "+99999", "-99999", "99999999999999999999999"}) {
    INFO(text);
    auto c = parse_scale_count(text);
    REQUIRE_FALSE(c);
    CHECK(c.error() == "an app has at most 4096 instances");
  }
  auto over = parse_scale_count("+2")->total(kMaxInstances - 1);
  REQUIRE_FALSE(over);
  CHECK(over.error() == "the app has 4095 instances; an app has at most 4096");
}

TEST_CASE("scale count: what is not N, +N or -N is refused with the forms it takes", "[config][scale]") {
  for (const char* text : {"", "+", "-", "abc", "1.5", "+-1", "--1", " 3", "3 ", "1e3", "0x10", "four"}) {
    INFO("'" << text << "'");
    auto c = parse_scale_count(text);
    REQUIRE_FALSE(c);
    CHECK(c.error() ==
          "the count is N (the total), +N (instances to add) or -N (instances to remove), N a whole number");
  }
}
