// AppSockets: a cluster-mode app's sockets bound once, refused to another app, released once
// every instance is stopped; the preload's listen requests checked before anything is bound.
// Unix sockets in a temporary home; the Node channel is a real socket pair.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "daemon/supervisor/app_sockets.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeProcessOps;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

struct SocketsRig {
  SocketsRig()
      : sockets(registry, [](const std::string&, const std::string&) -> Result<Credentials> {
          return Error{"never looked up"};
        }) {}

  Instance& add(const std::string& name, json options, int id) {
    options["name"] = name;
    options["script"] = "/bin/sh";
    auto spec = config::spec_from_json(options);
    REQUIRE(spec);
    return registry.insert(std::make_unique<Instance>(id, *spec));
  }

  /// Asks for a socket as the preload would, and returns pmxd's answer (one JSON line).
  json ask(Instance& in, const json& request, bool preloaded) {
    auto opened = NodeChannel::open(io, [](NodeChannel&, const NodeMessage&) {});
    REQUIRE(opened);
    auto [channel, app_end] = *opened;
    sockets.answer_listen(in, *channel, request, preloaded);
    char buf[4096];
    const ssize_t n = ::recv(app_end, buf, sizeof buf, MSG_DONTWAIT);
    channel->close();
    ::close(app_end);
    REQUIRE(n > 0);
    std::string line(buf, static_cast<std::size_t>(n));
    return json::parse(line.substr(0, line.find('\n')));
  }

  boost::asio::io_context io{1};
  Registry registry;
  AppSockets sockets;
};

bool socket_file_exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("a listen request of an app run without the preload is refused with EPERM", "[app_sockets]") {
  SocketsRig rig;
  Instance& in = rig.add("forked", {{"interpreter", "node"}}, 0);
  const json reply = rig.ask(in, {{"id", 7}, {"address", nullptr}, {"port", 8080}}, false);
  CHECK(reply["id"] == 7);
  CHECK(reply["errno"] == -EPERM);
  CHECK_FALSE(rig.registry.app("forked")->listeners.bound());
}

TEST_CASE("listen requests pmxd cannot read are refused with EINVAL, whatever their fields hold", "[app_sockets]") {
  SocketsRig rig;
  Instance& in = rig.add("web", {{"interpreter", "node"}, {"exec_mode", "cluster"}}, 0);
  for (const json& request : {json{{"id", 1}, {"port", "8080"}}, json{{"id", 2}, {"port", 70000}},
                              json{{"id", 3}, {"address", 5}, {"port", 80}},
                              json{{"id", 4}, {"address", "relative.sock"}, {"port", -1}},
                              json{{"id", "x"}, {"address", std::string(200, 'a')}, {"port", -1}}}) {
    const json reply = rig.ask(in, request, true);
    CHECK(reply["errno"] == -EINVAL);
  }
  CHECK(in.listen_refusals == 5);
  CHECK_FALSE(rig.registry.app("web")->listeners.bound());
}

TEST_CASE("an app's sockets are bound once, refused to another app, and closed once every instance is stopped",
          "[app_sockets]") {
  SupervisorHome home;
  SocketsRig rig;
  const std::string path = home.path + "/a.sock";
  Instance& a = rig.add("a", {{"exec_mode", "cluster"}, {"listen", {"unix:" + path}}}, 0);
  Instance& b = rig.add("b", {{"exec_mode", "cluster"}, {"listen", {"unix:" + path}}}, 1);
  App& app_a = *rig.registry.app("a");
  REQUIRE(rig.sockets.bind(app_a, a.spec));
  CHECK(app_a.listeners.bound());
  CHECK(socket_file_exists(path));
  CHECK(rig.sockets.bind(app_a, a.spec));  // bound already: nothing to do

  auto other = rig.sockets.bind(*rig.registry.app("b"), b.spec);
  REQUIRE_FALSE(other);
  CHECK(other.error() == "unix:" + path + ": app 'a' listens there");

  a.fsm.handle(Event::Start, Clock::now());
  REQUIRE_FALSE(is_stopped(a.fsm.state()));
  rig.sockets.release_if_idle(app_a);
  CHECK(app_a.listeners.bound());  // an instance is running
  a.fsm.handle(Event::Stop, Clock::now());
  a.fsm.handle(Event::Exited, Clock::now());
  REQUIRE(is_stopped(a.fsm.state()));
  rig.sockets.release_if_idle(app_a);
  CHECK_FALSE(app_a.listeners.bound());
  CHECK_FALSE(socket_file_exists(path));
}
