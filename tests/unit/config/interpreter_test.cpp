// Tests of config/interpreter.hpp: the interpreter PM2 picks by extension.
#include "config/interpreter.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
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

/// A file in a fresh temp dir with the given content and mode; removed with the object.
struct TempFile {
  TempFile(const std::string& name, const std::string& content, mode_t mode) {
    char tmpl[] = "/tmp/pmx-interp-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
  }
  ~TempFile() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  std::string dir, path;
};

TEST_CASE("choose_interpreter: by content when the extension says nothing, as PM2",
          "[interpreter]") {
  // express-generator's bin/www: JavaScript without extension or exec bit runs with node.
  CHECK(choose_interpreter(TempFile("www", "var app = require('../app');\n", 0644).path) == "node");
  CHECK(choose_interpreter(TempFile("www", "#!/usr/bin/env node\nrequire('x');\n", 0644).path) == "node");
  CHECK(choose_interpreter(TempFile("tool", "#!/usr/bin/env python3\nprint(1)\n", 0644).path) == "python3");
  CHECK(choose_interpreter(TempFile("run", "#!/bin/bash -e\necho\n", 0644).path) == "/bin/bash");
  CHECK(choose_interpreter(TempFile("blob", std::string("\x7f" "ELF\x02\x01", 6), 0755).path) == "none");
  CHECK(choose_interpreter(TempFile("data", std::string("ab\0cd", 5), 0644).path) == "none");
  CHECK(choose_interpreter("/bin/sh") == "none");
  // An executable whose shebang names a program other than node is run as it is.
  CHECK(choose_interpreter(TempFile("tool", "#!/usr/bin/env python3\nprint(1)\n", 0755).path) == "none");
  // The extension wins over the content.
  CHECK(choose_interpreter(TempFile("x.py", "#!/bin/sh\n", 0755).path) == "python3");
}

TEST_CASE("choose_interpreter: an executable script whose shebang names node is a Node app",
          "[interpreter][regression]") {
  // express-generator's bin/www and next's bin have the exec bit: under PM2 they run with node
  // (cluster mode, the IPC channel), not on their own.
  for (const char* shebang : {"#!/usr/bin/env node\n", "#!/usr/bin/node\n", "#!/usr/local/bin/nodejs --harmony\n",
                              "#!/usr/bin/env -S node --max-old-space-size=512\n", "#!/usr/bin/env  node\n"}) {
    CAPTURE(shebang);
    CHECK(choose_interpreter(TempFile("www", std::string(shebang) + "require('x');\n", 0755).path) == "node");
  }
  CHECK(choose_interpreter(TempFile("nodemon-like", "#!/usr/bin/env nodemonx\n", 0755).path) == "none");
}

}  // namespace
}  // namespace pmx::config
