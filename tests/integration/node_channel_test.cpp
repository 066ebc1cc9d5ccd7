// The Node channel as untrusted input: whatever a Node app puts on its IPC channel (messages of
// the wrong shape, huge ones, nesting deep enough to overflow a recursive walk), pmxd keeps
// reading the channel and keeps serving. The apps are real: Node itself, and for bytes Node
// would never write, a stand-in "node" interpreter that writes them raw on the channel's fd.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// A script that pmxd takes for a Node app (its interpreter is called "node"), written in Python
/// so that it can write any bytes on NODE_CHANNEL_FD: python_lines (Python expressions giving
/// bytes), each followed by a newline, then "ready". It then sleeps.
std::string write_raw_channel_app(const TempHome& home, const std::string& python_lines) {
  const std::string dir = home.scratch("raw-node");
  ::mkdir(dir.c_str(), 0755);
  const std::string interpreter = dir + "/node";
  std::ofstream(interpreter) << "#!/usr/bin/python3\n"
                                "import os, time\n"
                                "channel = os.fdopen(int(os.environ['NODE_CHANNEL_FD']), 'wb')\n"
                                "for line in [" << python_lines << "]:\n"
                                "    channel.write(line + b'\\n')\n"
                                "channel.write(b'\"ready\"\\n')\n"
                                "channel.flush()\n"
                                "while True: time.sleep(60)\n";
  ::chmod(interpreter.c_str(), 0755);
  return interpreter;
}

}  // namespace

TEST_CASE("messages of the wrong type leave the Node channel readable: a --wait-ready app that says 'ready' after them is online",
          "[integration][node][node_channel][regression]") {
  REQUIRE(have_node());
  Session s;
  const std::string app = s.home.scratch("junk.js");
  // Every shape pmxd once read with json::value() or get<>(), which throw on another type; then a
  // string of 1 MB, then an action registered after all that, which must still be heard.
  std::ofstream(app) << "const junk = [\n"
                        "  {type: 1}, {type: {}}, {type: [1]}, {type: null, data: {action_name: 'x'}},\n"
                        "  {type: 'axm:action', data: 'flush'}, {type: 'axm:action', data: {action_name: 7}},\n"
                        "  {type: 'axm:reply', data: null}, {type: 'axm:reply', data: {action_name: {}}},\n"
                        "  {type: 'process:msg', data: 5},\n"
                        "  {cmd: 7}, {cmd: 'NODE_PMX', pmx: {}}, {cmd: 'NODE_PMX', pmx: 'listen', id: 1, port: 'x'},\n"
                        "  {cmd: 'NODE_PMX', pmx: 'listen', id: 2, port: 1e300, index: 'z'},\n"
                        "  {cmd: 'NODE_PMX', pmx: 'listen', id: 3, port: {}, address: []},\n"
                        "  null, 12, [[[]]], 'x'.repeat(1000000),\n"
                        "];\n"
                        "for (const m of junk) process.send(m);\n"
                        "process.send({type: 'axm:action', data: {action_name: 'alive'}});\n"
                        "process.on('message', (m) => {\n"
                        "  if (m === 'alive') process.send({type: 'axm:reply', data: {action_name: 'alive', return: 'still reading'}});\n"
                        "});\n"
                        "setTimeout(() => process.send('ready'), 200);\n"
                        "setInterval(() => {}, 1000);\n";
  const RunResult started = s.pmx({"start", app, "--wait-ready", "--listen-timeout", "15000", "--kill-timeout", "500"});
  CHECK_EXIT(started, 0);
  CHECK(s.status("junk") == "online");
  // The channel is still read: the action registered after the junk answers.
  const RunResult alive = s.pmx({"trigger", "junk", "alive"});
  CHECK_EXIT(alive, 0);
  CHECK(mentions(alive.out, "still reading"));
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("JSON nested 150,000 levels deep on a Node channel is refused before parsing: pmxd serves on, at every spawn",
          "[integration][node][node_channel][regression]") {
  REQUIRE(have_python());
  Session s;
  // 300 KB of nesting: bare, as a PM2 message's data (copied and published by pmxd), under a
  // type, and as a listen request's id (echoed back).
  const std::string interpreter = write_raw_channel_app(
      s.home, "b'[' * 150000 + b']' * 150000, "
              "b'{\"type\":\"process:msg\",\"data\":' + b'[' * 150000 + b']' * 150000 + b'}', "
              "b'{\"type\":' + b'{\"a\":' * 100000 + b'1' + b'}' * 100000 + b'}', "
              "b'{\"cmd\":\"NODE_PMX\",\"pmx\":\"listen\",\"port\":0,\"id\":' + b'[' * 150000 + b']' * 150000 + b'}', "
              "b'[' * 64 + b']' * 64");
  const std::string script = s.home.scratch("deep.js");
  std::ofstream(script) << "// run by the stand-in interpreter, which ignores it\n";
  REQUIRE_EXIT(s.pmx({"start", script, "--interpreter", interpreter, "--wait-ready", "--listen-timeout", "15000",
                      "--kill-timeout", "500"}),
               0);
  CHECK(s.status("deep") == "online");
  // Every spawn sends it again.
  CHECK_EXIT(s.pmx({"restart", "deep"}), 0);
  CHECK(s.status("deep") == "online");
  CHECK(s.app("deep")["pm2_env"]["restart_time"] == 1);
  CHECK_EXIT(s.pmx({"ping"}), 0);
  CHECK(mentions(read_file(s.home.daemon_log()).value_or(""), "nested deeper than 64 levels"));
}
