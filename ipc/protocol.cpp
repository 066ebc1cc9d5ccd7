// JSON-RPC 2.0 codec. All parsing is exception-free (json::parse with allow_exceptions=false).
#include "ipc/protocol.hpp"

#include <variant>

#include "config/json_depth.hpp"

namespace pmx::ipc {

const char* error_kind(ErrorCode code) {
  switch (code) {
    case ErrorCode::ParseError: return "parse_error";
    case ErrorCode::InvalidRequest: return "invalid_request";
    case ErrorCode::MethodNotFound: return "method_not_found";
    case ErrorCode::InvalidParams: return "invalid_params";
    case ErrorCode::InternalError: return "internal_error";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::InvalidState: return "invalid_state";
    case ErrorCode::AlreadyExists: return "already_exists";
    case ErrorCode::Failed: return "failed";
    case ErrorCode::TooLarge: return "too_large";
    case ErrorCode::ShuttingDown: return "shutting_down";
  }
  return "unknown";
}

RpcError make_error(ErrorCode code, std::string message, json data) {
  if (!data.is_object()) data = json{{"detail", data}};
  data["kind"] = error_kind(code);
  return RpcError{code, std::move(message), std::move(data)};
}

RpcError invalid_param(std::string_view name, std::string_view problem) {
  return make_error(ErrorCode::InvalidParams, "params." + std::string(name) + " " + std::string(problem),
                    json{{"param", name}});
}

std::variant<Request, RpcError> decode_request(std::string_view line) {
  // Before parsing: every later walk of the document (copy, dump, destruction) recurses.
  if (auto depth = config::check_json_depth(line); !depth) {
    return make_error(ErrorCode::InvalidRequest, "request " + depth.error(),
                      json{{"max_depth", config::kMaxJsonDepth}});
  }
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::ParseError, "parse error: not valid JSON");
  if (!j.is_object()) return make_error(ErrorCode::InvalidRequest, "a request must be a JSON object");
  auto version = j.find("jsonrpc");
  if (version == j.end() || *version != "2.0") {
    return make_error(ErrorCode::InvalidRequest, "missing \"jsonrpc\": \"2.0\"");
  }
  auto method = j.find("method");
  if (method == j.end() || !method->is_string()) {
    return make_error(ErrorCode::InvalidRequest, "missing method name");
  }
  Request req;
  req.method = method->get<std::string>();
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string() && !id->is_number() && !id->is_null()) {
      return make_error(ErrorCode::InvalidRequest, "id must be a string, a number or null");
    }
    req.id = *id;
  }
  if (auto params = j.find("params"); params != j.end()) {
    if (!params->is_object() && !params->is_array()) {
      return make_error(ErrorCode::InvalidRequest, "params must be an object or an array");
    }
    req.params = std::move(*params);
  } else {
    req.params = json::object();
  }
  return req;
}

std::string encode_request(const json& id, std::string_view method, const json& params) {
  json j{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {
constexpr std::string_view kResultHead = R"(,"jsonrpc":"2.0","result":)";
}

std::string encode_result(const json& id, const json& result) {
  return encode_result_text(id, result.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string encode_result_text(const json& id, std::string_view result_json) {
  // Written by hand so the (possibly large) result is not copied into an envelope object,
  // and so that "result" is the last member: raw_result() relies on that.
  // Sized once: a list of a thousand apps is megabytes, and growing by doubling at the last '}'
  // would hold twice that for a moment.
  const std::string id_text = id.dump();
  std::string out;
  out.reserve(7 + id_text.size() + kResultHead.size() + result_json.size() + 1);
  out += R"({"id":)";
  out += id_text;
  out += kResultHead;
  out += result_json;
  out += '}';
  return out;
}

std::optional<std::string_view> raw_result(std::string_view line, const json& id) {
  const std::string head = R"({"id":)" + id.dump() + std::string(kResultHead);
  if (line.size() < head.size() + 1 || line.substr(0, head.size()) != head || line.back() != '}') {
    return std::nullopt;
  }
  return line.substr(head.size(), line.size() - head.size() - 1);
}

std::string encode_error(const json& id, const RpcError& error) {
  json err{{"code", static_cast<int>(error.code)}, {"message", error.message}};
  if (!error.data.is_null()) err["data"] = error.data;
  json j{{"jsonrpc", "2.0"}, {"id", id}, {"error", err}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response decode_response(std::string_view line) {
  Response r;
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error = make_error(ErrorCode::ParseError, "the daemon sent an unreadable reply");
    return r;
  }
  r.id = j.value("id", json());
  if (auto res = j.find("result"); res != j.end()) {
    r.result = *res;
    return r;
  }
  auto err = j.find("error");
  if (err == j.end() || !err->is_object()) {
    r.error = make_error(ErrorCode::InvalidRequest, "the daemon sent a reply without result or error");
    return r;
  }
  auto code = err->find("code");
  auto message = err->find("message");
  auto data = err->find("data");
  RpcError e{code != err->end() && code->is_number_integer() ? static_cast<ErrorCode>(code->get<int>())
                                                              : ErrorCode::InternalError,
             message != err->end() && message->is_string() ? message->get<std::string>() : "error",
             data != err->end() && data->is_object() ? *data : json::object()};
  r.error = std::move(e);
  return r;
}

}  // namespace pmx::ipc
