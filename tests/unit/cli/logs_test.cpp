// Tests of cli/logs.hpp: how `pmx logs` prints a line, a state change and a time stamp.
#include "cli/logs.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

namespace pmx::cli {
namespace {

using json = nlohmann::json;

LogLine line(bool err, std::string text) {
  LogLine l;
  l.id = 0;
  l.name = "api";
  l.err = err;
  l.text = std::move(text);
  l.at_ms = 1'700'000'000'123;
  return l;
}

/// at_ms rendered by strftime in local time, for comparisons.
std::string local(std::int64_t at_ms, const char* spec) {
  std::time_t t = static_cast<std::time_t>(at_ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, spec, &tm));
}

}  // namespace

TEST_CASE("logs: prefix padded as PM2, err marked without colour", "[logs]") {
  LogsOptions o;
  CHECK(format_log_line(line(false, "hello"), o) == "0|api      | hello\n");
  CHECK(format_log_line(line(true, "oops"), o) == "0|api      | err | oops\n");
  LogLine long_name = line(false, "x");
  long_name.name = "a-very-long-name";
  CHECK(format_log_line(long_name, o) == "0|a-very-long-name | x\n");
}

TEST_CASE("logs: colours on a terminal, green out and red err, highlight in inverse", "[logs]") {
  LogsOptions o;
  o.color = true;
  o.highlight = "ERROR";
  CHECK(format_log_line(line(false, "ok"), o) == "\x1b[32m0|api      | \x1b[39mok\n");
  CHECK(format_log_line(line(true, "an ERROR here, ERROR"), o) ==
        "\x1b[31m0|api      | \x1b[39man \x1b[7mERROR\x1b[27m here, \x1b[7mERROR\x1b[27m\n");
  o.color = false;
  CHECK(format_log_line(line(false, "an ERROR"), o) == "0|api      | an ERROR\n");
}

TEST_CASE("logs: --raw, --json, --timestamp", "[logs]") {
  LogsOptions o;
  o.raw = true;
  CHECK(format_log_line(line(true, "bare"), o) == "bare\n");
  o.timestamp = "";
  CHECK(format_log_line(line(false, "t"), o) ==
        local(1'700'000'000'123, "%Y-%m-%dT%H:%M:%S") + ": t\n");
  o.timestamp.reset();
  o.raw = false;
  o.json = true;
  const json j = json::parse(format_log_line(line(true, "msg"), o));
  CHECK(j["message"] == "msg");
  CHECK(j["type"] == "err");
  CHECK(j["process_id"] == 0);
  CHECK(j["app_name"] == "api");
  CHECK(j["timestamp"] == local(1'700'000'000'123, "%Y-%m-%dT%H:%M:%S") + ".123");
}

TEST_CASE("logs: format_stamp translates the dayjs tokens it knows", "[logs]") {
  CHECK(format_stamp(1'700'000'000'045, "YYYY/MM/DD HH:mm:ss.SSS") ==
        local(1'700'000'000'045, "%Y/%m/%d %H:%M:%S") + ".045");
  CHECK(format_stamp(0, "[at] ") == "at ");  // dayjs: [text] is literal
  CHECK(format_stamp(1'700'000'000'045, "YY hh A") == local(1'700'000'000'045, "%y %I %p"));
}

TEST_CASE("logs: state changes print as PMX lines, same-state events print nothing", "[logs]") {
  LogsOptions o;
  json online = {{"pm_id", 0}, {"name", "api"}, {"from", "launching"}, {"to", "online"},
                 {"status", "online"}, {"pid", 42}, {"reason", "spawned"}};
  CHECK(format_state_event(online, o) == "PMX        | 0|api: online (pid 42)\n");
  json exited = {{"pm_id", 0}, {"name", "api"}, {"from", "online"}, {"to", "waiting_restart"},
                 {"status", "waiting restart"}, {"pid", 0}, {"reason", "exited with code 1"}};
  CHECK(format_state_event(exited, o) == "PMX        | 0|api: waiting restart (exited with code 1)\n");
  json same = {{"pm_id", 0}, {"name", "api"}, {"from", "stopping"}, {"to", "stopping"}};
  CHECK(format_state_event(same, o).empty());
  o.raw = true;
  CHECK(format_state_event(online, o).empty());
}

}  // namespace pmx::cli

namespace pmx::cli {

TEST_CASE("escape_controls shows control characters as hex escapes and leaves text and tabs and UTF-8 alone",
          "[logs]") {
  CHECK(escape_controls("plain\ttext é ✓") == "plain\ttext é ✓");
  CHECK(escape_controls("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07");
  CHECK(escape_controls("a\rb\x7f") == "a\\x0db\\x7f");
  CHECK(escape_controls("\xc2\x9b" "31m") == "\\xc2\\x9b31m");  // CSI as one UTF-8 character
  CHECK(escape_controls(std::string("nul\0end", 7)) == "nul\\x00end");
}

TEST_CASE("logs on a terminal escapes the app's control characters in --raw too and --json escapes them as JSON",
          "[logs][regression]") {
  LogsOptions o;
  o.escape = true;
  CHECK(format_log_line(line(false, "\x1b[2Jclear"), o) == "0|api      | \\x1b[2Jclear\n");
  o.raw = true;
  CHECK(format_log_line(line(false, "\x1b]0;title\x07"), o) == "\\x1b]0;title\\x07\n");
  o.raw = false;
  o.json = true;
  CHECK(format_log_line(line(false, "\x1b"), o).find("\\u001b") != std::string::npos);
  o.json = false;
  o.escape = false;
  o.raw = true;
  CHECK(format_log_line(line(false, "\x1b[2J"), o) == "\x1b[2J\n");
}

}  // namespace pmx::cli
