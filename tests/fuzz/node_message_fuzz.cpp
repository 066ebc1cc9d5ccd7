// libFuzzer target: the Node channel's decoder must take any bytes an app writes, line by line as
// the channel reads them, without a crash, a hang, unbounded recursion or a sanitizer report;
// and each message must be usable the way the supervisor uses its kind without an exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/listeners/node_message.hpp"

namespace {

using nlohmann::json;
using pmx::daemon::NodeMessage;

/// What the supervisor does with a message of each kind (daemon/supervisor/supervisor.cpp, on_node_message,
/// node_listen; daemon/supervisor/app_messages.cpp): the same reads, the same copies, the same encodings.
void use(const NodeMessage& m) {
  switch (m.kind) {
    case NodeMessage::Kind::Listen: {
      // node_listen reads these with json::value, which throws on a value of another type.
      (void)m.raw.value("id", json());
      (void)m.raw.value("address", json());
      (void)m.raw.value("port", -2);
      (void)m.raw.value("index", 0);
      break;
    }
    case NodeMessage::Kind::BadListen:
      (void)json({{"cmd", "NODE_PMX"}, {"pmx", "listen"}, {"id", m.id}, {"errno", -22}}).dump();
      break;
    case NodeMessage::Kind::ActionReply:
    case NodeMessage::Kind::ProcessMsg: {
      const json published{{"pm_id", 0}, {"name", m.action_name}, {"data", m.value}, {"raw", m.raw}};
      (void)published.dump(-1, ' ', false, json::error_handler_t::replace);
      break;
    }
    default:
      (void)m.raw.dump(-1, ' ', false, json::error_handler_t::replace);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // As NodeChannel::read_some frames them: one message per '\n'-terminated line (the rest
  // would wait for its newline; decoded here too).
  while (!input.empty()) {
    const std::size_t nl = input.find('\n');
    const std::string_view line = input.substr(0, nl);
    if (!line.empty()) use(pmx::daemon::decode_node_message(line));
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  return 0;
}
