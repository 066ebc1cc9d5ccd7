// NodeMessage: a channel line to a typed message, every field's type checked before it is read.
#include "daemon/listeners/node_message.hpp"

#include <climits>

#include "config/json_access.hpp"
#include "config/json_depth.hpp"

namespace pmx::daemon {

using json = nlohmann::json;

namespace {

using Kind = NodeMessage::Kind;

/// A message with a "type" (PM2's protocol: @pm2/io's actions, process:msg packets).
void read_typed(NodeMessage& m) {
  const auto type = config::string_at(m.raw, "type");
  if (!type) return;  // {type: 1}, {type: {}}: not PM2's; the app's own
  const json* data = config::member(m.raw, "data");
  if (*type == "process:msg") {
    m.kind = Kind::ProcessMsg;
    m.value = data ? *data : json::object();
    return;
  }
  if (*type == "axm:monitor") {
    m.kind = Kind::Monitor;
    m.value = data ? *data : json();
    return;
  }
  if (*type != "axm:action" && *type != "axm:reply") return;
  const json no_data;
  const auto name = config::string_at(data ? *data : no_data, "action_name");
  if (!name || name->empty()) return;
  m.action_name = std::string(*name);
  if (*type == "axm:action") {
    m.kind = Kind::Action;
  } else {
    m.kind = Kind::ActionReply;
    const json* returned = config::member(*data, "return");
    m.value = returned ? *returned : json();
  }
}

/// {"cmd":"NODE_PMX",...}: the preload's requests and reports.
void read_pmx(NodeMessage& m) {
  const auto what = config::string_at(m.raw, "pmx");
  if (what == "listening") {
    m.kind = Kind::Listening;
    return;
  }
  if (what == "metrics") {
    m.kind = Kind::Metrics;
    return;
  }
  if (what != "listen") return;
  const json* id = config::member(m.raw, "id");
  m.id = id ? *id : json();
  // The fields the listen handler reads as numbers: integers of their range, or the request is
  // refused (EINVAL) before it gets there. A missing port is refused by the handler itself.
  const json* port = config::member(m.raw, "port");
  const json* index = config::member(m.raw, "index");
  const bool port_ok = !port || config::as_int(*port, -1, 65535).has_value();
  const bool index_ok = !index || config::as_int(*index, 0, INT_MAX).has_value();
  m.kind = port_ok && index_ok ? Kind::Listen : Kind::BadListen;
}

}  // namespace

NodeMessage decode_node_message(std::string_view line) {
  NodeMessage m;
  if (line.size() > kMaxNodeLine) {
    m.kind = Kind::Invalid;
    m.error = "is " + std::to_string(line.size()) + " bytes long (at most " + std::to_string(kMaxNodeLine) + ")";
    return m;
  }
  if (auto depth = config::check_json_depth(line); !depth) {
    m.kind = Kind::Invalid;
    m.error = "is " + depth.error();
    return m;
  }
  json parsed = json::parse(line, nullptr, false);
  if (parsed.is_discarded()) {
    m.kind = Kind::Invalid;
    m.error = "is not JSON";
    return m;
  }
  m.raw = std::move(parsed);
  if (m.raw.is_string()) {
    if (m.raw.get_ref<const std::string&>() == "ready") m.kind = Kind::Ready;
    return m;
  }
  if (!m.raw.is_object()) return m;
  const auto cmd = config::string_at(m.raw, "cmd");
  if (cmd == "NODE_HANDLE_ACK") {
    m.kind = Kind::HandleAck;
  } else if (cmd == "NODE_HANDLE_NACK") {
    m.kind = Kind::HandleNack;
  } else if (config::member(m.raw, "type")) {
    read_typed(m);  // PM2's messages go by their type, whatever else they hold
  } else if (cmd == "NODE_PMX") {
    read_pmx(m);
  }
  return m;
}

const char* to_string(NodeMessage::Kind kind) {
  switch (kind) {
    case Kind::Invalid: return "invalid";
    case Kind::Ready: return "ready";
    case Kind::HandleAck: return "handle_ack";
    case Kind::HandleNack: return "handle_nack";
    case Kind::Listen: return "listen";
    case Kind::BadListen: return "bad_listen";
    case Kind::Listening: return "listening";
    case Kind::Action: return "action";
    case Kind::ActionReply: return "action_reply";
    case Kind::ProcessMsg: return "process_msg";
    case Kind::Metrics: return "metrics";
    case Kind::Monitor: return "monitor";
    case Kind::Other: return "other";
  }
  return "unknown";
}

}  // namespace pmx::daemon
