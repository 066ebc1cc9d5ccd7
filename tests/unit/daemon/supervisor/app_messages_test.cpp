// AppMessages: the actions a run registers (deduplicated, bounded), what `trigger` and
// `sendData` write on the channels of the instances that can hear them, and when trigger
// answers: once every reply is in, or at its wait's end with what came by then. The Node
// channel is a real socket pair; the test reads the app's end. The wait is on fake timers: the
// test moves the clock.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "daemon/supervisor/app_messages.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using pmx::daemon::testing::FakeLoop;
using pmx::daemon::testing::SupervisorHome;
using pmx::daemon::testing::SupervisorRig;
using json = ipc::json;

namespace {

struct MessagesRig : FakeLoop {
  explicit MessagesRig(const std::string& home) : server(io, home + "/pmx.sock"), messages(timers, registry, server) {}
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
  /// Instance id's run answers action with value, as @pm2/io's reply does.
  void action_reply(int id, const std::string& name, const json& value) {
    Instance& in = *registry.find(id);
    messages.on_message(
        in, in.run.actions, true,
        decode_node_message(json{{"type", "axm:reply"}, {"data", {{"action_name", name}, {"return", value}}}}.dump()));
  }
  /// `trigger` from a client of its own, whose reply the test reads.
  SupervisorRig::Asked trigger(const json& params, const std::vector<int>& ids) {
    boost::asio::local::stream_protocol::socket ours(io);
    auto theirs = std::make_unique<boost::asio::local::stream_protocol::socket>(io);
    boost::asio::local::connect_pair(ours, *theirs);
    SupervisorRig::Asked asked{std::make_shared<Session>(1, std::move(ours), server), std::move(theirs), {}};
    messages.trigger(params, ids, Reply(asked.session, json(1)));
    return asked;
  }

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
  rig.advance(Millis(10));  // the wait ends
  CHECK(rig.timers.armed_count() == 0);

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

TEST_CASE("trigger answers at its wait's end, not a millisecond before, with the replies that came by then",
          "[app_messages][trigger]") {
  SupervisorHome home;
  MessagesRig rig(home.path);
  rig.add(0, true);
  rig.add(1, true);
  rig.register_action(0, "flush");
  rig.register_action(1, "flush");
  auto asked = rig.trigger({{"action", "flush"}, {"wait_ms", 1000}}, {0, 1});
  rig.advance(Millis(400));
  rig.action_reply(0, "flush", {{"flushed", 12}});
  rig.advance(Millis(599));
  CHECK_FALSE(asked.reply());
  rig.advance(Millis(1));
  const auto reply = asked.reply();
  REQUIRE(reply);
  CHECK(reply->at("result") ==
        json{{"action", "flush"},
             {"replies", json::array({json{{"pm_id", 0}, {"name", "n0"}, {"return", {{"flushed", 12}}}}})},
             {"no_reply", json::array({json{{"pm_id", 1}, {"name", "n1"}}})},
             {"wait_ms", 1000}});
  // A reply after the answer changes nothing: the trigger is gone.
  rig.action_reply(1, "flush", "late");
  rig.advance(Millis(5000));
  CHECK(rig.timers.armed_count() == 0);
}

TEST_CASE("trigger answers as soon as every instance reached has replied, and its wait never fires after",
          "[app_messages][trigger]") {
  SupervisorHome home;
  MessagesRig rig(home.path);
  rig.add(0, true);
  rig.add(1, true);
  rig.register_action(0, "flush");
  rig.register_action(1, "flush");
  auto asked = rig.trigger({{"action", "flush"}}, {0, 1});  // the default wait: 5 s
  rig.advance(Millis(100));
  rig.action_reply(1, "flush", 1);
  rig.settle();
  CHECK_FALSE(asked.reply());
  rig.action_reply(0, "flush", 0);
  rig.settle();
  const auto reply = asked.reply();
  REQUIRE(reply);
  CHECK(reply->at("result").at("replies") == json::array({json{{"pm_id", 0}, {"name", "n0"}, {"return", 0}},
                                                          json{{"pm_id", 1}, {"name", "n1"}, {"return", 1}}}));
  CHECK(reply->at("result").at("no_reply") == json::array());
  CHECK(reply->at("result").at("wait_ms") == 5000);
  CHECK(rig.timers.armed_count() == 0);
  rig.advance(Millis(10'000));
  (void)asked.reply();  // reads what came since
  CHECK(std::count(asked.received.begin(), asked.received.end(), '\n') == 1);  // one answer only
}
