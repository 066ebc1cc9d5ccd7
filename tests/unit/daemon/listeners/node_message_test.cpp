// NodeMessage: what an app can put on its Node channel, typed before pmxd acts on it. Any line,
// of any shape, type or depth, is a message kind or Invalid, never an exception.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "config/json_depth.hpp"
#include "daemon/listeners/node_message.hpp"

using pmx::daemon::decode_node_message;
using pmx::daemon::NodeMessage;
using Kind = pmx::daemon::NodeMessage::Kind;

namespace {

/// [[[...]]] nested depth levels.
std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST_CASE("node message: each shape an app may send is typed as its kind", "[node_message]") {
  const std::vector<std::pair<std::string, Kind>> table = {
      {R"("ready")", Kind::Ready},
      {R"("Ready")", Kind::Other},
      {R"({"cmd":"NODE_HANDLE_ACK"})", Kind::HandleAck},
      {R"({"cmd":"NODE_HANDLE_NACK"})", Kind::HandleNack},
      {R"({"cmd":"NODE_PMX","pmx":"listen","id":1,"address":null,"port":3000,"index":0})", Kind::Listen},
      {R"({"cmd":"NODE_PMX","pmx":"listen","id":2,"address":"/run/a.sock","port":-1})", Kind::Listen},
      {R"({"cmd":"NODE_PMX","pmx":"listening","id":1,"address":{"port":3000}})", Kind::Listening},
      {R"({"cmd":"NODE_PMX","pmx":"drained"})", Kind::Other},
      {R"({"type":"axm:action","data":{"action_name":"flush"}})", Kind::Action},
      {R"({"type":"axm:reply","data":{"action_name":"flush","return":{"ok":true}}})", Kind::ActionReply},
      {R"({"type":"process:msg","data":{"hello":1}})", Kind::ProcessMsg},
      {R"({"type":"axm:monitor","data":{}})", Kind::Monitor},
      {R"({"cmd":"NODE_PMX","pmx":"metrics","heap_total":1})", Kind::Metrics},
      {R"({"hello":"world"})", Kind::Other},
      {R"(42)", Kind::Other},
      {R"(null)", Kind::Other},
      {R"([1,2,3])", Kind::Other},
  };
  for (const auto& [line, kind] : table) {
    INFO(line);
    CHECK(decode_node_message(line).kind == kind);
  }
  const NodeMessage action = decode_node_message(R"({"type":"axm:action","data":{"action_name":"flush"}})");
  CHECK(action.action_name == "flush");
  const NodeMessage reply = decode_node_message(R"({"type":"axm:reply","data":{"action_name":"flush","return":[1]}})");
  CHECK(reply.action_name == "flush");
  CHECK(reply.value == nlohmann::json::array({1}));
  const NodeMessage msg = decode_node_message(R"({"type":"process:msg","data":"hi","topic":true})");
  CHECK(msg.value == "hi");
  CHECK(msg.raw.at("topic") == true);
  CHECK(decode_node_message(R"({"type":"process:msg"})").value == nlohmann::json::object());
  const NodeMessage listen = decode_node_message(R"({"cmd":"NODE_PMX","pmx":"listen","id":"a7","port":80})");
  CHECK(listen.id == "a7");
  CHECK(listen.raw.at("port") == 80);
}

TEST_CASE("node message: a type, cmd or data of the wrong type is not PM2's message, never an exception",
          "[node_message][regression]") {
  const std::vector<std::string> lines = {
      R"({"type":1})",
      R"({"type":{}})",
      R"({"type":[]})",
      R"({"type":null,"data":{"action_name":"x"}})",
      R"({"type":true})",
      R"({"type":"axm:action"})",
      R"({"type":"axm:action","data":"flush"})",
      R"({"type":"axm:action","data":{"action_name":1}})",
      R"({"type":"axm:action","data":{"action_name":""}})",
      R"({"type":"axm:action","data":{"action_name":{"a":1}}})",
      R"({"type":"axm:reply","data":[]})",
      R"({"type":"axm:reply","data":{"action_name":null,"return":1}})",
      R"({"cmd":1})",
      R"({"cmd":{"cmd":"NODE_HANDLE_ACK"}})",
      R"({"cmd":"NODE_PMX","pmx":1})",
      R"({"cmd":"NODE_PMX","pmx":["listen"]})",
  };
  for (const auto& line : lines) {
    INFO(line);
    CHECK(decode_node_message(line).kind == Kind::Other);
  }
}

TEST_CASE("node message: a listen request whose port or index is not an integer of its range is refused",
          "[node_message][regression]") {
  const std::string head = R"({"cmd":"NODE_PMX","pmx":"listen","id":9,)";
  for (const char* fields : {R"("port":"3000")", R"("port":3000.5)", R"("port":1e300)", R"("port":4294967297)",
                                   R"("port":65536)", R"("port":-2)", R"("port":true)", R"("port":{})",
                                   R"("port":3000,"index":-1)", R"("port":3000,"index":"0")",
                                   R"("port":3000,"index":1e30)", R"("port":3000,"index":2147483648)"}) {
    INFO(fields);
    const NodeMessage m = decode_node_message(head + std::string(fields) + "}");
    CHECK(m.kind == Kind::BadListen);
    CHECK(m.id == 9);
  }
  CHECK(decode_node_message(head + R"("port":0,"index":2147483647})").kind == Kind::Listen);
}

TEST_CASE("node message: a line nested deeper than the cap is Invalid before it is parsed", "[node_message][regression]") {
  const std::size_t cap = pmx::config::kMaxJsonDepth;
  CHECK(decode_node_message(nested_arrays(cap)).kind == Kind::Other);
  const NodeMessage deep = decode_node_message(nested_arrays(cap + 1));
  CHECK(deep.kind == Kind::Invalid);
  CHECK(deep.error == "is nested deeper than 64 levels of arrays and objects");
  // What crashed pmxd: a 300 KB line of 150,000 levels.
  CHECK(decode_node_message(nested_arrays(150'000)).kind == Kind::Invalid);
  CHECK(decode_node_message(std::string(150'000, '{')).kind == Kind::Invalid);
  CHECK(decode_node_message("{\"type\":" + nested_arrays(150'000) + "}").kind == Kind::Invalid);
}

TEST_CASE("node message: junk, huge strings and overlong lines are handled", "[node_message]") {
  CHECK(decode_node_message("not json").kind == Kind::Invalid);
  CHECK(decode_node_message("{\"type\":").kind == Kind::Invalid);
  CHECK(decode_node_message(std::string("\"\xff\xfe\"")).kind == Kind::Invalid);  // not UTF-8
  const std::string big = "\"" + std::string(1'000'000, 'x') + "\"";
  CHECK(decode_node_message(big).kind == Kind::Other);
  CHECK(decode_node_message("{\"type\":" + big + "}").kind == Kind::Other);
  CHECK(decode_node_message(std::string(pmx::daemon::kMaxNodeLine + 1, ' ')).kind == Kind::Invalid);
}
