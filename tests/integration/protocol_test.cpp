// Protocol: the daemon's newline-delimited JSON-RPC 2.0 on $PMX_HOME/pmx.sock, with bad input.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <latch>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

bool is_ping_answer(const std::optional<json>& reply, const json& id) {
  return reply && !reply->is_discarded() && reply->value("jsonrpc", "") == "2.0" &&
         reply->contains("id") && (*reply)["id"] == id && reply->contains("result") &&
         !reply->contains("error");
}

/// Reads the reply to a bad message: an error object with code, or the connection closed.
/// Returns the code, 0 for "closed", or nullopt when neither happened before the deadline.
std::optional<int> error_or_close(RawClient& c, std::string& seen) {
  auto line = c.read_line(5s);
  if (!line) {
    if (c.eof()) return 0;
    return std::nullopt;
  }
  seen = *line;
  auto reply = json::parse(*line, nullptr, false);
  if (reply.is_discarded() || !reply.contains("error") || !reply["error"].contains("code"))
    return std::nullopt;
  return reply["error"]["code"].get<int>();
}

}  // namespace

TEST_CASE("ping over the raw socket", "[integration][protocol]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  auto reply = c.call(1, "ping");
  INFO((reply ? reply->dump() : "no reply"));
  CHECK(is_ping_answer(reply, 1));
  // Ids come back as given, strings included.
  auto reply2 = c.call("abc", "ping");
  CHECK(is_ping_answer(reply2, "abc"));
}

TEST_CASE("pipelined and split requests are framed by newlines", "[integration][protocol]") {
  Session s;
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  std::string one = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{}})";
  std::string two = R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{}})";
  REQUIRE(c.send(one + "\n" + two + "\n"));
  auto r1 = c.read_line(), r2 = c.read_line();
  REQUIRE(r1);
  REQUIRE(r2);
  CHECK(is_ping_answer(json::parse(*r1, nullptr, false), 1));
  CHECK(is_ping_answer(json::parse(*r2, nullptr, false), 2));

  std::string three = R"({"jsonrpc":"2.0","id":3,"method":"ping","params":{}})";
  REQUIRE(c.send(three.substr(0, 10)));
  // Half a message gets no answer...
  CHECK_FALSE(c.read_line(200ms));
  REQUIRE(c.send(three.substr(10) + "\n"));
  // ...until the rest arrives.
  auto r3 = c.read_line();
  REQUIRE(r3);
  CHECK(is_ping_answer(json::parse(*r3, nullptr, false), 3));
}

TEST_CASE("garbage gets a parse error or a close - other clients are served",
          "[integration][protocol]") {
  Session s;
  RawClient bystander, bad;
  REQUIRE(bystander.connect(s.home.socket()));
  REQUIRE(bad.connect(s.home.socket()));
  REQUIRE(is_ping_answer(bystander.call(1, "ping"), 1));

  REQUIRE(bad.send("this is not json {{{\n"));
  std::string seen;
  auto code = error_or_close(bad, seen);
  INFO("reply: " << seen);
  REQUIRE(code);
  if (*code != 0) CHECK(*code == -32700);

  CHECK(is_ping_answer(bystander.call(2, "ping"), 2));
  RawClient late;
  REQUIRE(late.connect(s.home.socket()));
  CHECK(is_ping_answer(late.call(3, "ping"), 3));

  // Binary junk, including a NUL, does not hurt either.
  RawClient junk;
  REQUIRE(junk.connect(s.home.socket()));
  junk.send(std::string("\x00\xff\xfe{\"a\n", 7));
  CHECK(error_or_close(junk, seen));
  CHECK(is_ping_answer(bystander.call(4, "ping"), 4));
}

TEST_CASE("an unknown method gets -32601", "[integration][protocol]") {
  Session s;
  RawClient bystander, c;
  REQUIRE(bystander.connect(s.home.socket()));
  REQUIRE(c.connect(s.home.socket()));
  auto reply = c.call(7, "no_such_method");
  INFO((reply ? reply->dump() : "no reply"));
  REQUIRE(reply);
  REQUIRE_FALSE(reply->is_discarded());
  REQUIRE(reply->contains("error"));
  CHECK((*reply)["error"]["code"] == -32601);
  CHECK((*reply)["id"] == 7);
  // The connection stays usable after a well-formed request for an unknown method.
  CHECK(is_ping_answer(c.call(8, "ping"), 8));
  CHECK(is_ping_answer(bystander.call(1, "ping"), 1));
}

TEST_CASE("a 2 MiB message gets -32005 or a close - other clients are served",
          "[integration][protocol]") {
  Session s;
  RawClient bystander, big;
  REQUIRE(bystander.connect(s.home.socket()));
  REQUIRE(big.connect(s.home.socket()));
  REQUIRE(is_ping_answer(bystander.call(1, "ping"), 1));

  json req = {{"jsonrpc", "2.0"},
              {"id", 99},
              {"method", "ping"},
              {"params", {{"pad", std::string(2 * 1024 * 1024, 'a')}}}};
  // The daemon may close mid-way; then send fails, which is fine.
  big.send(req.dump() + "\n", 10s);
  std::string seen;
  auto code = error_or_close(big, seen);
  INFO("reply: " << seen.substr(0, 300));
  REQUIRE(code);
  if (*code != 0) CHECK(*code == -32005);

  CHECK(is_ping_answer(bystander.call(2, "ping"), 2));

  // A message that never ends (no newline) is cut off too, without starving others.
  RawClient endless;
  REQUIRE(endless.connect(s.home.socket()));
  endless.send(std::string(2 * 1024 * 1024, 'x'), 10s);
  CHECK(is_ping_answer(bystander.call(3, "ping"), 3));
  auto more = endless.read_line(3s);
  if (more) {
    auto reply = json::parse(*more, nullptr, false);
    CHECK(!reply.is_discarded());
    CHECK(reply["error"]["code"] == -32005);
  }
}

TEST_CASE("100 concurrent clients each get their ping answer", "[integration][protocol]") {
  Session s;
  constexpr int kClients = 100;
  std::vector<int> answered(kClients, 0);
  std::vector<std::string> failure(kClients);
  std::latch connected(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      RawClient c;
      bool ok = c.connect(s.home.socket());
      connected.count_down();
      if (!ok) {
        failure[i] = "connect failed";
        return;
      }
      connected.wait();  // every client is connected before any sends
      auto reply = c.call(i, "ping", json::object(), 20s);
      if (is_ping_answer(reply, i)) answered[i] = 1;
      else failure[i] = reply ? reply->dump() : (c.eof() ? "closed" : "no reply");
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  std::string failures;
  for (int i = 0; i < kClients; ++i) {
    total += answered[i];
    if (!answered[i]) failures += std::to_string(i) + ": " + failure[i] + "\n";
  }
  INFO(failures);
  CHECK(total == kClients);
  CHECK_EXIT(s.pmx({"ping"}), 0);
}

TEST_CASE("the home is 0700 and the socket 0600", "[integration][protocol]") {
  Session s;
  struct stat home_st{}, sock_st{};
  REQUIRE(stat(s.home.path().c_str(), &home_st) == 0);
  REQUIRE(stat(s.home.socket().c_str(), &sock_st) == 0);
  CHECK((home_st.st_mode & 0777) == 0700);
  CHECK(S_ISSOCK(sock_st.st_mode));
  CHECK((sock_st.st_mode & 0777) == 0600);
}

TEST_CASE("a client with another uid is refused by the peer check", "[integration][protocol]") {
  // Acting as another user needs root; CI runs as root.
  REQUIRE(geteuid() == 0);
  Session s;
  // Open the file permissions so that only SO_PEERCRED stands between the client and pmxd.
  REQUIRE(chmod(s.home.path().c_str(), 0755) == 0);
  REQUIRE(chmod(s.home.socket().c_str(), 0777) == 0);

  int result_pipe[2];
  REQUIRE(pipe(result_pipe) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // As nobody: connect, ask, and report what came back (0 closed, 1 answered, 2 other).
    char verdict = 2;
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      RawClient c;
      if (c.connect(s.home.socket())) {
        auto reply = c.call(1, "ping", json::object(), 3s);
        verdict = reply ? 1 : (c.eof() ? 0 : 2);
      }
    }
    ssize_t n = write(result_pipe[1], &verdict, 1);
    _exit(n == 1 ? 0 : 1);
  }
  close(result_pipe[1]);
  char verdict = 9;
  ssize_t n = read(result_pipe[0], &verdict, 1);
  close(result_pipe[0]);
  int st = 0;
  waitpid(child, &st, 0);
  REQUIRE(n == 1);
  CHECK(verdict == 0);  // the connection was closed without an answer

  // The daemon goes on serving its own user.
  RawClient own;
  REQUIRE(own.connect(s.home.socket()));
  CHECK(is_ping_answer(own.call(2, "ping"), 2));
}

TEST_CASE("ill-typed params get an error reply, never an internal error", "[integration][protocol]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sig", "--kill-timeout", "500"}), 0);
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  const json bad_params[] = {
      {{"targets", "sig"}},                                        // not a list
      {{"targets", json::array({json::object()})}},                // a target that is an object
      {{"app", {{"script", 5}}}, {"force", "yes"}, {"env", 3}},    // start with wrong types
      {{"apps", json::array({1, 2})}},
      {{"signal", json::array()}, {"targets", json::array({"sig"})}},
  };
  const char* methods[] = {"stop", "describe", "start", "start", "signal"};
  for (std::size_t i = 0; i < std::size(methods); ++i) {
    auto reply = c.call(static_cast<int>(i), methods[i], bad_params[i]);
    INFO(methods[i] << " " << bad_params[i].dump() << " -> " << (reply ? reply->dump() : "nothing"));
    REQUIRE(reply.has_value());
    REQUIRE(reply->contains("error"));
    CHECK((*reply)["error"]["code"] != -32603);  // a refusal, not a daemon bug
  }
  // A numeric signal is understood.
  auto ok = c.call(99, "signal", {{"signal", 10}, {"targets", json::array({"sig"})}});
  REQUIRE(ok.has_value());
  CHECK(ok->contains("result"));
  CHECK(is_ping_answer(c.call(100, "ping"), 100));
}

TEST_CASE("every verb answers a param of the wrong type with -32602 naming the param, and does nothing",
          "[integration][protocol][regression]") {
  Session s;
  REQUIRE_EXIT(s.pmx({"start", bin::kSleeper, "--name", "sl", "--kill-timeout", "500"}), 0);
  RawClient c;
  REQUIRE(c.connect(s.home.socket()));
  const json sl = json::array({"sl"});
  const json app = {{"name", "other"}, {"script", bin::kSleeper}};
  struct Case {
    const char* method;
    json params;
    const char* param;
  };
  const Case cases[] = {
      {"logs", {{"follow", "yes"}}, "follow"},
      {"logs", {{"follow", 1}}, "follow"},
      {"logs", {{"lines", "10"}}, "lines"},
      {"logs", {{"lines", -1}}, "lines"},
      {"logs", {{"streams", "out"}}, "streams"},
      {"logs", {{"targets", "sl"}}, "targets"},
      {"logs", {{"targets", sl}, {"cwd", 5}}, "cwd"},
      {"stop", {{"targets", "sl"}}, "targets"},
      {"stop", {{"targets", json::array({json::object()})}}, "targets"},
      {"stop", {{"targets", sl}, {"watch", "no"}}, "watch"},
      {"stop", {{"targets", sl}, {"cwd", json::array()}}, "cwd"},
      {"restart", {{"targets", sl}, {"watch", 1}}, "watch"},
      {"restart", {{"targets", sl}, {"env", 3}}, "env"},
      {"reload", {{"targets", sl}, {"app_env", {{"A", 1}}}}, "app_env"},
      {"start", {{"app", "x"}}, "app"},
      {"start", {{"apps", 5}}, "apps"},
      {"start", {{"app", app}, {"force", "yes"}}, "force"},
      {"start", {{"app", app}, {"env", 3}}, "env"},
      {"trigger", {{"targets", sl}, {"action", 5}}, "action"},
      {"trigger", {{"targets", sl}, {"action", "a"}, {"wait_ms", "5"}}, "wait_ms"},
      {"trigger", {{"targets", sl}, {"action", "a"}, {"wait_ms", -1}}, "wait_ms"},
      {"sendData", {{"targets", sl}}, "data"},
      {"sendData", {{"targets", sl}, {"data", 1}, {"topic", json::object()}}, "topic"},
      {"signal", {{"targets", sl}, {"signal", json::array()}}, "signal"},
      {"signal", {{"targets", sl}, {"signal", true}}, "signal"},
      {"signal", {{"targets", sl}, {"signal", "SIGNOPE"}}, "signal"},
      {"scale", {{"name", 5}, {"count", 2}}, "name"},
      {"scale", {{"name", "sl"}, {"count", true}}, "count"},
      {"save", {{"force", "yes"}}, "force"},
      {"resurrect", {{"dump", "x"}}, "dump"},
      {"resurrect", {{"source", 5}}, "source"},
      {"update", {{"binary", 5}}, "binary"},
      {"describe", {{"targets", 5}}, "targets"},
      {"delete", {{"targets", json::object()}}, "targets"},
      {"reset", {{"targets", json::array()}}, "targets"},
      {"flush", {{"targets", sl}, {"cwd", false}}, "cwd"},
      {"subscribe", {{"topics", "events"}}, "topics"},
  };
  int id = 0;
  for (const auto& k : cases) {
    auto reply = c.call(++id, k.method, k.params);
    INFO(k.method << " " << k.params.dump() << " -> " << (reply ? reply->dump() : "nothing"));
    REQUIRE(reply.has_value());
    REQUIRE(reply->contains("error"));
    const json& error = (*reply)["error"];
    CHECK(error.value("code", 0) == -32602);
    CHECK(error.value("data", json::object()).value("param", "") == k.param);
    CHECK(mentions(error.value("message", ""), k.param));
  }
  // Nothing was done: the app runs as it did, never restarted, stopped or deleted.
  ++id;
  CHECK(is_ping_answer(c.call(id, "ping"), id));
  CHECK(s.status("sl") == "online");
  CHECK(s.app("sl")["pm2_env"]["restart_time"] == 0);
  CHECK(s.jlist().size() == 1);
}
