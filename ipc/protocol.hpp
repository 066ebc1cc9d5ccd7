// The control protocol: newline-delimited JSON-RPC 2.0; error codes and message codec.
// docs/protocol.md documents every method for clients in any language.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace pmx::ipc {

using json = nlohmann::json;

/// Largest message either side accepts, newline excluded.
constexpr std::size_t kMaxMessageBytes = 1024 * 1024;

/// JSON-RPC error codes. The standard ones, then pmx's (-32000 and below).
enum class ErrorCode : int {
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  NotFound = -32001,      ///< a target names no app
  InvalidState = -32002,  ///< the verb does not apply in the app's state
  AlreadyExists = -32003, ///< the script is already launched (start without force)
  Failed = -32004,        ///< the operation was tried and failed (e.g. exec error)
  TooLarge = -32005,      ///< message above kMaxMessageBytes
  ShuttingDown = -32006,  ///< pmxd is stopping every app to exit: nothing starts any more
};

/// The "kind" string that goes in error.data, one per code.
const char* error_kind(ErrorCode code);

/// A decoded request. id is absent for notifications.
struct Request {
  std::optional<json> id;
  std::string method;
  json params;  ///< object or array; an empty object when absent
};

/// A JSON-RPC error as carried in a response.
struct RpcError {
  ErrorCode code;
  std::string message;
  json data;  ///< extra details; "kind" is always set by make_error
};

/// Decodes one line into a Request, or the error to answer with (ParseError, InvalidRequest).
/// Nesting deeper than config::kMaxJsonDepth is refused (InvalidRequest) before parsing.
/// Never throws.
std::variant<Request, RpcError> decode_request(std::string_view line);

/// Encodes a request line (no trailing newline).
std::string encode_request(const json& id, std::string_view method, const json& params);

/// Encodes a success response line: {"id":…,"jsonrpc":"2.0","result":…} with result last.
std::string encode_result(const json& id, const json& result);

/// Same, with the result already encoded as JSON text (spliced in as it is).
std::string encode_result_text(const json& id, std::string_view result_json);

/// The result's JSON text in a line made by encode_result for this id, without parsing it;
/// nullopt for anything else (an error reply, another encoder): decode it instead.
std::optional<std::string_view> raw_result(std::string_view line, const json& id);

/// Encodes an error response line; id is null when the request could not be read.
std::string encode_error(const json& id, const RpcError& error);

/// Builds an RpcError with data.kind filled in.
RpcError make_error(ErrorCode code, std::string message, json data = json::object());

/// The invalid_params error for one param: "params.<name> <problem>" (problem as the typed
/// accessors of config/json_access.hpp word it: "must be true or false"), data.param = name.
RpcError invalid_param(std::string_view name, std::string_view problem);

/// A decoded response: either result or error.
struct Response {
  json id;
  std::optional<json> result;
  std::optional<RpcError> error;
};

/// Decodes a response line. Never throws; a malformed line yields an error Response.
Response decode_response(std::string_view line);

}  // namespace pmx::ipc
