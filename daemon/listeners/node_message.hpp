// NodeMessage: one line of a Node instance's IPC channel, decoded and typed before any handler
// sees it. Everything on the channel comes from the app, so every field is read with its type
// checked: a message of an unexpected shape is ignored (or refused), never an exception. Pure
// (no Asio, no I/O), so that it is fuzzed on its own (tests/fuzz/node_message_fuzz.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pmx::daemon {

/// What one line of the channel says. Node's JSON serialization sends one JSON text per line.
struct NodeMessage {
  enum class Kind {
    Invalid,      ///< not JSON, or nested deeper than config::kMaxJsonDepth (error says which)
    Ready,        ///< "ready": process.send('ready')
    HandleAck,    ///< {"cmd":"NODE_HANDLE_ACK"}: Node took the handle pmxd sent
    HandleNack,   ///< {"cmd":"NODE_HANDLE_NACK"}: the handle's line came without its fd
    Listen,       ///< {"cmd":"NODE_PMX","pmx":"listen",...}: the preload asks for a socket
    BadListen,    ///< a listen request whose port, index or address has the wrong type or range
    Listening,    ///< {"cmd":"NODE_PMX","pmx":"listening",...}: a server of the instance listens
    Action,       ///< {"type":"axm:action","data":{"action_name":...}}: @pm2/io registers an action
    ActionReply,  ///< {"type":"axm:reply","data":{"action_name":...,"return":...}}
    ProcessMsg,   ///< {"type":"process:msg",...}: published on the events topic
    Metrics,      ///< {"cmd":"NODE_PMX","pmx":"metrics",...}: the preload's runtime metrics (raw)
    Monitor,      ///< {"type":"axm:monitor","data":{...}}: @pm2/io's metrics (value: data)
    Other,        ///< anything else (the app's own messages, other PM2 types): ignored
  };

  Kind kind = Kind::Other;
  std::string error;  ///< Invalid: why, as a predicate ("is not JSON")
  /// The message as the app sent it (Listen: the request, whose port, index and address have
  /// been checked; ProcessMsg: what is published as `raw`). Null for Invalid.
  nlohmann::json raw;
  /// Listen, BadListen: the request's id as sent (a string, a number or null), for the reply.
  nlohmann::json id;
  /// Action, ActionReply: the action's name (not empty).
  std::string action_name;
  /// ActionReply: what the action returned; ProcessMsg: the message's `data` (null if none);
  /// Monitor: its `data` (null if none).
  nlohmann::json value;
};

/// The longest line the channel takes; a longer one closes the channel.
constexpr std::size_t kMaxNodeLine = std::size_t{1} << 20;

/// Decodes one line (without its newline). Lines deeper than config::kMaxJsonDepth are refused
/// before they are parsed (every later walk of a document recurses). Never throws (bar
/// std::bad_alloc).
NodeMessage decode_node_message(std::string_view line);

/// The kind's name, for logs and tests.
const char* to_string(NodeMessage::Kind kind);

}  // namespace pmx::daemon
