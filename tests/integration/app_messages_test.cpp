// PM2's messages on a Node app's IPC channel: `pmx trigger` runs an action the app registered
// as @pm2/io registers them, and `pmx sendData` hands it a process:msg packet. The app here
// speaks @pm2/io's protocol by hand, so the test needs only node.
#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;
using namespace std::chrono_literals;

namespace {

// Registers 'hello' (answers with its pid) and 'echo' (answers with its parameter) as
// @pm2/io's io.action() does, 'silent' which never answers, and writes each process:msg packet
// it gets to <dir>/packet-<pid> (renamed into place: the test reads it while the app runs).
std::string write_actions_app(const TempHome& home) {
  const std::string path = home.scratch("actions.js");
  std::ofstream(path) << "const fs = require('fs');\n"
                         "for (const name of ['hello', 'echo', 'silent'])\n"
                         "  process.send({ type: 'axm:action', data: { action_name: name, opts: false, arity: 1 } });\n"
                         "const reply = (name, value) => process.send({ type: 'axm:reply', data: { return: value, action_name: name } });\n"
                         "process.on('message', (m) => {\n"
                         "  if (m === 'hello') reply('hello', { pid: process.pid });\n"
                         "  else if (m && m.msg === 'echo') reply('echo', { got: m.opts });\n"
                         "  else if (m && m.type === 'process:msg') {\n"
                         "    const file = '" << home.scratch("packet-") << "' + process.pid;\n"
                         "    fs.writeFileSync(file + '.tmp', JSON.stringify(m));\n"
                         "    fs.renameSync(file + '.tmp', file);\n"
                         "  }\n"
                         "});\n"
                         "setInterval(() => {}, 1000);\n";
  return path;
}

// Starts write_actions_app's app as "acts" with 2 instances; their pids once both are online.
std::set<std::string> start_actions_app(Session& s) {
  REQUIRE_EXIT(s.pmx({"start", write_actions_app(s.home), "--name", "acts", "-i", "2"}), 0);
  REQUIRE(s.wait_status("acts", "online"));
  const auto pids = pids_of(s, "acts");
  REQUIRE(pids.size() == 2);
  return pids;
}

}  // namespace

TEST_CASE("trigger runs an action every instance registered and prints each reply",
          "[integration][node][trigger]") {
  REQUIRE(have_node());
  Session s;
  const auto pids = start_actions_app(s);
  // The registrations travel on their own: wait until both instances have theirs in.
  RunResult hello;
  REQUIRE(wait_until([&] {
    hello = s.pmx({"trigger", "acts", "hello"});
    return hello.exit_code == 0 && std::count(hello.out.begin(), hello.out.end(), '\n') == 2;
  }, 10s));
  for (const auto& pid : pids) CHECK(hello.out.find("{\"pid\":" + pid + "}") != std::string::npos);
  CHECK(hello.out.find("acts:0 ") != std::string::npos);
  CHECK(hello.out.find("acts:1 ") != std::string::npos);

  const RunResult echo = s.pmx({"trigger", "0", "echo", "some words"});
  CHECK(echo.exit_code == 0);
  CHECK(echo.out == "acts:0 {\"got\":\"some words\"}\n");

  const RunResult unknown = s.pmx({"trigger", "acts", "nope"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("no running instance of the targets has an action 'nope' (registered: hello, echo, silent)") !=
        std::string::npos);

  // An action that never answers: named, and a failure, after the wait.
  const RunResult silent = s.pmx({"trigger", "0", "silent"});
  CHECK(silent.exit_code != 0);
  CHECK(silent.err.find("acts:0 did not reply within 5000 ms") != std::string::npos);
}

TEST_CASE("sendData hands every targeted Node instance a process:msg packet", "[integration][node][trigger]") {
  REQUIRE(have_node());
  Session s;
  const auto pids = start_actions_app(s);
  const RunResult sent = s.pmx({"sendData", "acts", "{\"deploy\":\"v2\"}", "--topic", "config"});
  CHECK(sent.exit_code == 0);
  CHECK(sent.out == "sent to 2 instance(s)\n");
  for (const auto& pid : pids) {
    const std::string file = s.home.scratch("packet-" + pid);
    REQUIRE(wait_until([&] { return read_file(file).has_value(); }, 10s));
    const json packet = json::parse(*read_file(file));
    CHECK(packet.value("type", "") == "process:msg");
    CHECK(packet.value("topic", "") == "config");
    CHECK(packet["data"] == json{{"deploy", "v2"}});
  }
  const RunResult bad = s.pmx({"sendData", "acts", "not json"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("'not json' is not JSON") != std::string::npos);
  // A stopped app has no channel to send on.
  REQUIRE_EXIT(s.pmx({"stop", "acts"}), 0);
  const RunResult stopped = s.pmx({"sendData", "acts", "1"});
  CHECK(stopped.exit_code != 0);
  CHECK(stopped.err.find("no targeted instance is a running Node app") != std::string::npos);
}
