// Tests of ipc/protocol.hpp: JSON-RPC 2.0 decoding of hostile input and codec round trips.
#include "ipc/protocol.hpp"

#include <catch2/catch.hpp>

#include <iterator>
#include <set>
#include <string>
#include <variant>

namespace pmx::ipc {
namespace {

RpcError decode_error(std::string_view line) {
  std::variant<Request, RpcError> r = Request{};
  REQUIRE_NOTHROW(r = decode_request(line));
  INFO(line);
  REQUIRE(std::holds_alternative<RpcError>(r));
  return std::get<RpcError>(r);
}

Request decode_ok(std::string_view line) {
  std::variant<Request, RpcError> r = RpcError{};
  REQUIRE_NOTHROW(r = decode_request(line));
  INFO(line);
  if (auto* e = std::get_if<RpcError>(&r)) FAIL("decode error: " << e->message);
  return std::get<Request>(r);
}

TEST_CASE("decode_request: garbage and truncated JSON are parse errors", "[protocol]") {
  for (const char* line : {"", " ", "garbage", "{", "{\"jsonrpc\":\"2.0\",\"method\":\"list\"",
                           "{\"jsonrpc\":\"2.0\",\"method\":}", "[1,2", "nul", "{'a':1}",
                           "{\"a\":1}}", "\xff\xfe", "{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\"}"}) {
    RpcError e = decode_error(line);
    CHECK(e.code == ErrorCode::ParseError);
    CHECK(e.data.at("kind") == "parse_error");
  }
}

TEST_CASE("decode_request: JSON that is not a request object is an invalid request", "[protocol]") {
  for (const char* line : {"[]", "[{\"jsonrpc\":\"2.0\",\"method\":\"list\"}]", "1", "\"list\"",
                           "null", "true"}) {
    RpcError e = decode_error(line);
    CHECK(e.code == ErrorCode::InvalidRequest);
    CHECK(e.data.at("kind") == "invalid_request");
  }
}

TEST_CASE("decode_request: jsonrpc must be \"2.0\"", "[protocol]") {
  for (const char* line : {R"({"method":"list","id":1})", R"({"jsonrpc":"1.0","method":"list"})",
                           R"({"jsonrpc":2.0,"method":"list"})", R"({"jsonrpc":null,"method":"list"})",
                           R"({"jsonrpc":"2.0 ","method":"list"})"}) {
    CHECK(decode_error(line).code == ErrorCode::InvalidRequest);
  }
}

TEST_CASE("decode_request: method must be a string", "[protocol]") {
  for (const char* line : {R"({"jsonrpc":"2.0","id":1})", R"({"jsonrpc":"2.0","method":5})",
                           R"({"jsonrpc":"2.0","method":null})", R"({"jsonrpc":"2.0","method":["list"]})",
                           R"({"jsonrpc":"2.0","method":{}})"}) {
    CHECK(decode_error(line).code == ErrorCode::InvalidRequest);
  }
}

TEST_CASE("decode_request: params must be an object or an array", "[protocol]") {
  for (const char* line : {R"({"jsonrpc":"2.0","method":"stop","params":"api"})",
                           R"({"jsonrpc":"2.0","method":"stop","params":3})",
                           R"({"jsonrpc":"2.0","method":"stop","params":true})",
                           R"({"jsonrpc":"2.0","method":"stop","params":null})"}) {
    CHECK(decode_error(line).code == ErrorCode::InvalidRequest);
  }
}

TEST_CASE("decode_request: id must be a string, a number or null", "[protocol]") {
  for (const char* line : {R"({"jsonrpc":"2.0","method":"list","id":{}})",
                           R"({"jsonrpc":"2.0","method":"list","id":{"a":1}})",
                           R"({"jsonrpc":"2.0","method":"list","id":[1]})",
                           R"({"jsonrpc":"2.0","method":"list","id":true})"}) {
    CHECK(decode_error(line).code == ErrorCode::InvalidRequest);
  }
}

TEST_CASE("decode_request: a valid request", "[protocol]") {
  Request r = decode_ok(R"({"jsonrpc":"2.0","id":7,"method":"stop","params":{"target":"api"}})");
  REQUIRE(r.id.has_value());
  CHECK(*r.id == 7);
  CHECK(r.method == "stop");
  CHECK(r.params == json{{"target", "api"}});

  Request s = decode_ok(R"({"jsonrpc":"2.0","id":"abc","method":"list","params":[1,2]})");
  REQUIRE(s.id.has_value());
  CHECK(*s.id == "abc");
  CHECK(s.params == json::array({1, 2}));

  Request n = decode_ok(R"({"jsonrpc":"2.0","id":null,"method":"ping"})");
  REQUIRE(n.id.has_value());
  CHECK(n.id->is_null());
}

TEST_CASE("decode_request: a notification has no id and absent params are empty", "[protocol]") {
  Request r = decode_ok(R"(  {"method":"ping","jsonrpc":"2.0"}  )");
  CHECK_FALSE(r.id.has_value());
  CHECK(r.method == "ping");
  // The header says null when absent; the code gives {}. Either is empty and not an error.
  CHECK((r.params.is_null() || r.params.is_object()));
  CHECK(r.params.empty());
}

TEST_CASE("decode_request: deep nesting does not crash", "[protocol]") {
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  CHECK(decode_error(deep).code == ErrorCode::InvalidRequest);
  // Refused for its depth before the parser sees that it is also unterminated.
  std::string open(100'000, '{');
  CHECK(decode_error(open).code == ErrorCode::InvalidRequest);
}

TEST_CASE("encode_request -> decode_request round trip", "[protocol]") {
  json params{{"target", "api"}, {"env", {{"A", "1"}}}, {"list", {1, "two", nullptr}}};
  for (const json& id : {json(1), json("req-1"), json(nullptr), json(9007199254740993ull)}) {
    std::string line = encode_request(id, "restart", params);
    CHECK(line.find('\n') == std::string::npos);
    Request r = decode_ok(line);
    REQUIRE(r.id.has_value());
    CHECK(*r.id == id);
    CHECK(r.method == "restart");
    CHECK(r.params == params);
  }
}

TEST_CASE("encode_request: strings with newlines stay on one line", "[protocol]") {
  std::string line = encode_request(1, "start", json{{"args", {"a\nb", "c\r\nd"}}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(decode_ok(line).params.at("args").at(0) == "a\nb");
}

TEST_CASE("encode_request: invalid UTF-8 is replaced, not thrown", "[protocol]") {
  std::string line;
  REQUIRE_NOTHROW(line = encode_request(1, "start", json{{"name", "bad\xff"}}));
  Request r = decode_ok(line);
  CHECK(r.params.at("name").get<std::string>().rfind("bad", 0) == 0);
}

TEST_CASE("encode_result -> decode_response round trip", "[protocol]") {
  json result{{"apps", {{{"name", "api"}, {"pm_id", 0}}}}};
  Response r = decode_response(encode_result(3, result));
  CHECK(r.id == 3);
  REQUIRE(r.result.has_value());
  CHECK(*r.result == result);
  CHECK_FALSE(r.error.has_value());

  Response null_result = decode_response(encode_result("x", nullptr));
  CHECK(null_result.id == "x");
  REQUIRE(null_result.result.has_value());
  CHECK(null_result.result->is_null());
}

TEST_CASE("make_error: data.kind is always set", "[protocol]") {
  RpcError plain = make_error(ErrorCode::NotFound, "no app named api");
  CHECK(plain.code == ErrorCode::NotFound);
  CHECK(plain.message == "no app named api");
  CHECK(plain.data == json{{"kind", "not_found"}});

  RpcError extra = make_error(ErrorCode::InvalidState, "already online", json{{"state", "online"}});
  CHECK(extra.data.at("kind") == "invalid_state");
  CHECK(extra.data.at("state") == "online");

  RpcError wrapped = make_error(ErrorCode::Failed, "exec failed", json("ENOENT"));
  CHECK(wrapped.data.at("kind") == "failed");
  CHECK(wrapped.data.at("detail") == "ENOENT");

  RpcError overwritten = make_error(ErrorCode::TooLarge, "too big", json{{"kind", "lie"}});
  CHECK(overwritten.data.at("kind") == "too_large");
}

TEST_CASE("error_kind: one distinct name per code", "[protocol]") {
  const ErrorCode codes[] = {ErrorCode::ParseError,   ErrorCode::InvalidRequest,
                             ErrorCode::MethodNotFound, ErrorCode::InvalidParams,
                             ErrorCode::InternalError, ErrorCode::NotFound,
                             ErrorCode::InvalidState,  ErrorCode::AlreadyExists,
                             ErrorCode::Failed,        ErrorCode::TooLarge};
  std::set<std::string> kinds;
  for (ErrorCode c : codes) {
    std::string k = error_kind(c);
    CHECK(k != "unknown");
    kinds.insert(k);
  }
  CHECK(kinds.size() == std::size(codes));
  CHECK(std::string(error_kind(ErrorCode::MethodNotFound)) == "method_not_found");
  CHECK(std::string(error_kind(ErrorCode::AlreadyExists)) == "already_exists");
}

TEST_CASE("encode_error carries code, message and data.kind", "[protocol]") {
  RpcError e = make_error(ErrorCode::AlreadyExists, "api is already launched", json{{"pm_id", 2}});
  std::string line = encode_error(5, e);
  CHECK(line.find('\n') == std::string::npos);

  json j = json::parse(line);
  CHECK(j.at("jsonrpc") == "2.0");
  CHECK(j.at("id") == 5);
  CHECK(j.at("error").at("code") == -32003);
  CHECK(j.at("error").at("message") == "api is already launched");
  CHECK(j.at("error").at("data").at("kind") == "already_exists");
  CHECK(j.at("error").at("data").at("pm_id") == 2);
  CHECK_FALSE(j.contains("result"));

  Response r = decode_response(line);
  CHECK(r.id == 5);
  CHECK_FALSE(r.result.has_value());
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::AlreadyExists);
  CHECK(r.error->message == "api is already launched");
  CHECK(r.error->data.at("kind") == "already_exists");
  CHECK(r.error->data.at("pm_id") == 2);
}

TEST_CASE("encode_error: an unreadable request is answered with a null id", "[protocol]") {
  RpcError e = decode_error("not json");
  json j = json::parse(encode_error(nullptr, e));
  CHECK(j.at("id").is_null());
  CHECK(j.at("error").at("code") == -32700);
  CHECK(j.at("error").at("data").at("kind") == "parse_error");
}

TEST_CASE("decode_response: garbage is an error response, never a throw", "[protocol]") {
  for (const char* line : {"", "garbage", "{", "[]", "[1]", "42", "null", "\"ok\"",
                           "{\"jsonrpc\":\"2.0\",\"id\":1", "\xff"}) {
    INFO(line);
    Response r;
    REQUIRE_NOTHROW(r = decode_response(line));
    CHECK_FALSE(r.result.has_value());
    REQUIRE(r.error.has_value());
    CHECK(r.error->code == ErrorCode::ParseError);
    CHECK(r.error->data.at("kind") == "parse_error");
  }
}

TEST_CASE("decode_response: neither result nor error is an error response", "[protocol]") {
  for (const char* line : {R"({"jsonrpc":"2.0","id":1})", R"({"jsonrpc":"2.0","id":1,"error":"boom"})",
                           R"({"jsonrpc":"2.0","id":1,"error":null})"}) {
    INFO(line);
    Response r;
    REQUIRE_NOTHROW(r = decode_response(line));
    CHECK_FALSE(r.result.has_value());
    REQUIRE(r.error.has_value());
    CHECK(r.error->code == ErrorCode::InvalidRequest);
  }
}

TEST_CASE("decode_response: missing error fields get defaults", "[protocol]") {
  Response r = decode_response(R"({"jsonrpc":"2.0","id":"a","error":{}})");
  CHECK(r.id == "a");
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::InternalError);
  CHECK(r.error->message == "error");
  CHECK(r.error->data.is_object());
}

TEST_CASE("decode_response: ill-typed error fields do not throw", "[protocol]") {
  for (const char* line : {R"({"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":5}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":null,"message":null}})"}) {
    INFO(line);
    Response r;
    REQUIRE_NOTHROW(r = decode_response(line));
    CHECK(r.error.has_value());
  }
}

TEST_CASE("deeply nested requests are refused before parsing, under the size cap", "[protocol]") {
  const std::string head = R"({"jsonrpc":"2.0","id":7,"method":"start","params":)";
  // 100,000 levels inside params.app.env, and 400,000 in params: both below kMaxMessageBytes.
  const std::string in_env = head + R"({"app":{"name":"a","script":"/bin/sh","env":{"X":)" +
                             std::string(100000, '[') + std::string(100000, ']') + "}}}}";
  const std::string in_params = head + std::string(400000, '[') + std::string(400000, ']') + "}";
  for (const std::string* line : {&in_env, &in_params}) {
    REQUIRE(line->size() < kMaxMessageBytes);
    RpcError e = decode_error(*line);
    CHECK(e.code == ErrorCode::InvalidRequest);
    CHECK_THAT(e.message, Catch::Matchers::Contains("nested deeper than 64 levels"));
    CHECK(e.data.at("max_depth") == 64);
  }
  // Unbalanced: only opening brackets.
  CHECK(decode_error(head + std::string(500000, '{')).code == ErrorCode::InvalidRequest);
}

TEST_CASE("nesting up to the limit decodes, brackets in strings do not count", "[protocol]") {
  // params is level 2 (the request object is level 1).
  const std::string ok = R"({"jsonrpc":"2.0","id":1,"method":"x","params":)" + std::string(63, '[') +
                         std::string(63, ']') + "}";
  CHECK(decode_ok(ok).params.is_array());
  const std::string one_more = R"({"jsonrpc":"2.0","id":1,"method":"x","params":)" + std::string(64, '[') +
                               std::string(64, ']') + "}";
  CHECK(decode_error(one_more).code == ErrorCode::InvalidRequest);
  const std::string text = R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"s":")" + std::string(1000, '[') + R"("}})";
  CHECK(decode_ok(text).params.at("s").get<std::string>().size() == 1000);
}

}  // namespace
}  // namespace pmx::ipc
