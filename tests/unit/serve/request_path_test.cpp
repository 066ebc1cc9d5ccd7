// serve/request_path: what a request target may name below the served folder.
#include <catch2/catch.hpp>

#include "serve/request_path.hpp"

using pmx::serve::request_path;

TEST_CASE("serve: a target is decoded to a path below the folder, query and fragment cut", "[serve]") {
  CHECK(request_path("/")->relative == "");
  CHECK(request_path("/")->trailing_slash);
  CHECK(request_path("/a%20b/c.css?v=1#top")->relative == "a b/c.css");
  CHECK(request_path("/docs/")->trailing_slash);
  CHECK_FALSE(request_path("/docs")->trailing_slash);
  CHECK(request_path("//a/./b//c")->relative == "a/b/c");
  CHECK(request_path("/caf%C3%A9.html")->relative == "caf\xC3\xA9.html");
}

TEST_CASE("serve: a target that could leave the folder or is malformed names nothing", "[serve][security]") {
  for (const char* bad : {"/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/%2E%2e/x", "/a/%2e%2e%2f%2e%2e/x",
                          "/..%2fx", "/a/..", "x", "", "*", "/%", "/%2", "/%zz", "/a%00.html", "http://h/x"}) {
    INFO(bad);
    CHECK_FALSE(request_path(bad));
  }
  // Dots that are no parent segment are names.
  CHECK(request_path("/..a/b..")->relative == "..a/b..");
  CHECK(request_path("/.well-known/x")->relative == ".well-known/x");
}
