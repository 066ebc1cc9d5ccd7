// Tests of config/interpreter.hpp: the interpreter PM2 picks by extension.
#include "config/interpreter.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace pmx::config {
namespace {

TEST_CASE("interpreter_for: every extension of the table", "[interpreter]") {
  struct Row {
    const char* script;
    const char* interpreter;
  };
  const Row rows[] = {
      {"/srv/app.js", "node"},  {"/srv/app.mjs", "node"}, {"/srv/app.cjs", "node"},
      {"/srv/app.py", "python3"}, {"/srv/app.sh", "bash"}, {"/srv/app.rb", "ruby"},
      {"/srv/app.php", "php"},  {"/srv/app.pl", "perl"},
  };
  for (const Row& row : rows) {
    INFO(row.script);
    CHECK(interpreter_for(row.script) == row.interpreter);
  }
}

TEST_CASE("interpreter_for: relative paths and bare file names", "[interpreter]") {
  CHECK(interpreter_for("app.js") == "node");
  CHECK(interpreter_for("./bin/tool.py") == "python3");
  CHECK(interpreter_for("../x.sh") == "bash");
  CHECK(interpreter_for("/a.b/c.d/app.rb") == "ruby");
}

TEST_CASE("interpreter_for: binaries and unknown extensions run directly", "[interpreter]") {
  for (const char* script : {"/usr/bin/redis-server", "run", "/srv/app.exe", "/srv/app.ts",
                             "/srv/app.jsx", "/srv/app.js.bak", "/srv/app.", "/srv/app.JS",
                             "/srv/app.Py", "", "/"}) {
    INFO("'" << script << "'");
    CHECK(interpreter_for(script) == "");
  }
}

TEST_CASE("interpreter_for: a dot in a directory is not an extension", "[interpreter]") {
  CHECK(interpreter_for("/a.b/run") == "");
  CHECK(interpreter_for("/opt/node.js/bin/server") == "");
  CHECK(interpreter_for("./.local/bin/tool") == "");
  CHECK(interpreter_for("dir.py/run") == "");
}

}  // namespace
}  // namespace pmx::config
