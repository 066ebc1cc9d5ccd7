// AppMessages: the actions a run registers (deduplicated, bounded), and what `trigger` and
// `sendData` write on the channels of the instances that can hear them. The Node channel is a
// real socket pair; the test reads the app's end.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/supervisor/app_messages.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::SupervisorHome;
using json = ipc::json;

namespace {

struct MessagesRig {
  explicit MessagesRig(const std::string& home) : server(io, home + "/pmx.sock"), messages(io, registry, server) {}
  ~MessagesRig() {
    for (int fd : app_ends) ::close(fd);
  }

  /// A Node instance with a channel; online when running is set. Returns the app's end.
  int add(int id, bool running) {
    auto spec = config::spec_from_json(json{{"name", "n" + std::to_string(id)}, {"script", "/bin/sh"}, {"interpreter", "node"}});
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(id, *spec));
    auto opened = NodeChannel::open(io, [](NodeChannel&, const NodeMessage&) {});
    REQUIRE(opened);
    in.run.channel = opened->first;
    app_ends.push_back(opened->second);
    if (running) {
      (void)in.fsm.handle(Event::Start, Clock::now());
      (void)in.fsm.handle(Event::Spawned, Clock::now());
    }
    return opened->second;
  }
  /// What pmxd wrote to an app's end so far.
  static std::string read(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  void register_action(int id, const std::string& name) {
    Instance& in = *registry.find(id);
    messages.on_message(in, in.run.actions, true,
                        decode_node_message(json{{"type", "axm:action"}, {"data", {{"action_name", name}}}}.dump()));
  }

  boost::asio::io_context io{1};
  Registry registry;
  ControlServer server;
  AppMessages messages;
  std::vector<int> app_ends;
};

}  // namespace

TEST_CASE("a run's actions are registered once each, and at most 256", "[app_messages]") {
  SupervisorHome home;
  MessagesRig rig(home.path);
  rig.add(0, true);
  rig.register_action(0, "flush");
  rig.register_action(0, "flush");
  REQUIRE(rig.registry.find(0)->run.actions == std::vector<std::string>{"flush"});
  for (int i = 0; i < 400; ++i) rig.register_action(0, "a" + std::to_string(i));
  CHECK(rig.registry.find(0)->run.actions.size() == 256);
}

TEST_CASE("trigger and sendData reach the running instances that can hear them, and only those", "[app_messages]") {
  SupervisorHome home;
  MessagesRig rig(home.path);
  const int running = rig.add(0, true);
  const int stopped = rig.add(1, false);
  const int silent = rig.add(2, true);  // registered no action
  rig.register_action(0, "flush");
  rig.register_action(1, "flush");
  rig.messages.trigger({{"action", "flush"}, {"wait_ms", 10}}, {0, 1, 2}, Reply({}, json(1)));
  CHECK(MessagesRig::read(running) == "\"flush\"\n");
  CHECK(MessagesRig::read(stopped).empty());
  CHECK(MessagesRig::read(silent).empty());
  rig.io.run_for(std::chrono::seconds(5));  // the wait ends (10 ms): the only work left

  rig.messages.send_data({{"data", {{"k", 1}}}, {"topic", "t"}}, {0, 1, 2}, Reply({}, json(1)));
  const json packet = json::parse(MessagesRig::read(running));
  CHECK(packet == json{{"type", "process:msg"}, {"topic", "t"}, {"data", {{"k", 1}}}, {"id", 0}});
  CHECK(MessagesRig::read(stopped).empty());
  CHECK(!MessagesRig::read(silent).empty());
}

TEST_CASE("the current run's runtime metrics and axm:monitor are kept, a replacement's and bad ones are not",
          "[app_messages][metrics]") {
  SupervisorHome home;
  MessagesRig rig(home.path);
  rig.add(0, true);
  Instance& in = *rig.registry.find(0);
  const std::string report = R"({"cmd":"NODE_PMX","pmx":"metrics","heap_total":1048576,"loop":{"p99":12.5}})";
  rig.messages.on_message(in, in.run.actions, false, decode_node_message(report));  // reload's replacement
  CHECK_FALSE(in.metrics.runtime);
  rig.messages.on_message(in, in.run.actions, true, decode_node_message(report));
  REQUIRE(in.metrics.runtime);
  CHECK(in.metrics.runtime->loop_p99_ms == 12.5);

  rig.messages.on_message(in, in.run.actions, true,
                          decode_node_message(R"({"type":"axm:monitor","data":{"users":{"value":3,"unit":"u"}}})"));
  REQUIRE(in.metrics.custom.size() == 1);
  CHECK(axm_monitor(in.metrics).at("users").at("value") == 3);
  // Each axm:monitor is the app's whole set: the next one replaces it.
  rig.messages.on_message(in, in.run.actions, true,
                          decode_node_message(R"({"type":"axm:monitor","data":{"jobs":{"value":"1.5"}}})"));
  REQUIRE(in.metrics.custom.size() == 1);
  CHECK(in.metrics.custom[0].name == "jobs");

  // Wrong shapes: dropped and counted, the last good values stay.
  rig.messages.on_message(in, in.run.actions, true, decode_node_message(R"({"type":"axm:monitor","data":[1]})"));
  rig.messages.on_message(in, in.run.actions, true, decode_node_message(R"({"cmd":"NODE_PMX","pmx":"metrics","heap_total":"x"})"));
  CHECK(in.metrics.dropped == 2);
  CHECK(in.metrics.runtime->loop_p99_ms == 12.5);
  CHECK(in.metrics.custom.size() == 1);
}
