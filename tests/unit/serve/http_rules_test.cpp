// serve/: ranges, conditional GETs, Basic auth, content types and pmx-serve's options.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "serve/basic_auth.hpp"
#include "serve/byte_range.hpp"
#include "serve/content_type.hpp"
#include "serve/serve_options.hpp"
#include "serve/validators.hpp"

using namespace pmx::serve;

TEST_CASE("serve: one byte range is read against the file's size", "[serve]") {
  using Kind = ByteRange::Kind;
  auto r = byte_range("bytes=0-499", 1000);
  CHECK((r.kind == Kind::Part && r.first == 0 && r.last == 499));
  r = byte_range("bytes=500-", 1000);
  CHECK((r.kind == Kind::Part && r.first == 500 && r.last == 999));
  r = byte_range("bytes=-100", 1000);
  CHECK((r.kind == Kind::Part && r.first == 900 && r.last == 999));
  r = byte_range("bytes=-5000", 1000);
  CHECK((r.kind == Kind::Part && r.first == 0 && r.last == 999));
  r = byte_range("bytes=900-5000", 1000);  // the end is cut to the file's
  CHECK((r.kind == Kind::Part && r.first == 900 && r.last == 999));
  CHECK(byte_range("bytes=1000-", 1000).kind == Kind::Unsatisfiable);
  CHECK(byte_range("bytes=-0", 1000).kind == Kind::Unsatisfiable);
  CHECK(byte_range("bytes=0-", 0).kind == Kind::Unsatisfiable);
  // Whole file: none, another unit, malformed, reversed, several ranges, overflow.
  for (const char* whole : {"", "items=0-1", "bytes=", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-9", "bytes=1",
                            "bytes=99999999999999999999999-"}) {
    INFO(whole);
    CHECK(byte_range(whole, 1000).kind == Kind::Whole);
  }
}

TEST_CASE("serve: If-None-Match and If-Modified-Since make a 304", "[serve]") {
  const std::string tag = "\"1-2-3\"";
  CHECK(not_modified(tag, "", tag, 100));
  CHECK(not_modified("\"x\", W/\"1-2-3\"", "", tag, 100));
  CHECK(not_modified("*", "", tag, 100));
  CHECK_FALSE(not_modified("\"1-2-4\"", "", tag, 100));
  // If-None-Match wins over If-Modified-Since.
  CHECK_FALSE(not_modified("\"other\"", http_date(200), tag, 100));
  CHECK(not_modified("", http_date(100), tag, 100));
  CHECK(not_modified("", http_date(5000), tag, 100));
  CHECK_FALSE(not_modified("", http_date(99), tag, 100));
  CHECK_FALSE(not_modified("", "yesterday", tag, 100));
  CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_CASE("serve: Basic auth matches only the exact credentials", "[serve][security]") {
  // "user:pass" is dXNlcjpwYXNz.
  CHECK(basic_auth_matches("Basic dXNlcjpwYXNz", "user", "pass"));
  CHECK(basic_auth_matches("basic  dXNlcjpwYXNz ", "user", "pass"));
  CHECK_FALSE(basic_auth_matches("Basic dXNlcjpwYXN6", "user", "pass"));
  CHECK_FALSE(basic_auth_matches("Basic dXNlcjpwYXNzeA==", "user", "pass"));  // user:passx
  CHECK_FALSE(basic_auth_matches("Basic dXNlcjo=", "user", "pass"));          // user:
  CHECK_FALSE(basic_auth_matches("Bearer dXNlcjpwYXNz", "user", "pass"));
  CHECK_FALSE(basic_auth_matches("Basic !!!", "user", "pass"));
  CHECK_FALSE(basic_auth_matches("", "user", "pass"));
}

TEST_CASE("serve: content types by extension", "[serve]") {
  CHECK(content_type("index.html") == "text/html; charset=utf-8");
  CHECK(content_type("/a/b/APP.JS") == "text/javascript; charset=utf-8");
  CHECK(content_type("x.woff2") == "font/woff2");
  CHECK(content_type("x.wasm") == "application/wasm");
  CHECK(content_type("Makefile") == "application/octet-stream");
  CHECK(content_type(".bashrc") == "application/octet-stream");
  CHECK(content_type("a.d/readme") == "application/octet-stream");
}

TEST_CASE("serve: pmx-serve's arguments win over PM2's PM2_SERVE_ variables", "[serve]") {
  ::setenv("PM2_SERVE_PATH", "/srv/www", 1);
  ::setenv("PM2_SERVE_PORT", "9000", 1);
  ::setenv("PM2_SERVE_SPA", "true", 1);
  auto from_env = parse_serve_options({});
  REQUIRE(from_env.options);
  CHECK(from_env.options->root == "/srv/www");
  CHECK(from_env.options->port == 9000);
  CHECK(from_env.options->spa);
  auto given = parse_serve_options({"/srv/other", "9100", "--homepage", "app.html"});
  REQUIRE(given.options);
  CHECK(given.options->root == "/srv/other");
  CHECK(given.options->port == 9100);
  CHECK(given.options->homepage == "/app.html");
  ::unsetenv("PM2_SERVE_PATH");
  ::unsetenv("PM2_SERVE_PORT");
  ::unsetenv("PM2_SERVE_SPA");
  CHECK(parse_serve_options({}).options->port == 8080);
  CHECK(parse_serve_options({".", "0"}).error == "port '0' is not a number from 1 to 65535");
  CHECK(parse_serve_options({".", "80", "x"}).error == "takes a folder and a port, not x");
  CHECK(parse_serve_options({"--basic-auth-username", "u"}).error == "basic auth needs both a username and a password");
  CHECK(parse_serve_options({"--bogus"}).error == "unknown option --bogus");
  CHECK(parse_serve_options({"--port"}).error == "--port needs a value");
}
