// `pmx logs`: one `logs` request (tail, and follow unless --nostream) after subscribing to the
// events topic, then every notification printed as it arrives. Output goes straight to fd 1
// with write(2): nothing is buffered, and a closed reader (EPIPE) ends the command quietly.
#include "cli/logs.hpp"

#include "cli/ansi.hpp"
#include "config/log_format.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <string_view>
#include <optional>
#include <iostream>
#include <set>

#include "cli/autostart.hpp"
#include "cli/commands.hpp"
#include "ipc/client.hpp"

namespace pmx::cli {

namespace {

using namespace ansi;

using json = nlohmann::json;

/// PM2 pads `<id>|<name>` to this width before ` | `.
constexpr std::size_t kPrefixWidth = 10;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string padded(std::string text) {
  if (text.size() < kPrefixWidth) text.append(kPrefixWidth - text.size(), ' ');
  return text;
}

std::string highlighted(const std::string& text, const std::string& word) {
  if (word.empty()) return text;
  std::string out;
  std::size_t from = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, from)) {
    out.append(text, from, at - from);
    out += kInverse;
    out += word;
    out += kInverseOff;
    from = at + word.size();
  }
  out.append(text, from);
  return out;
}

/// Writes all of text to stdout; false once the reader is gone (EPIPE) or stdout fails.
bool emit(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// True when stdout is a pipe or socket whose reader has gone (`| head` has exited).
bool reader_gone() {
  pollfd p{STDOUT_FILENO, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

}  // namespace

std::string escape_controls(std::string_view text) {
  auto is_control = [&](std::size_t i) -> std::size_t {  // bytes of the control at i, or 0
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return 1;
    if (c == 0xc2 && i + 1 < text.size()) {
      const auto d = static_cast<unsigned char>(text[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return 2;  // U+0080..U+009F: C1, CSI (U+009B) among them
    }
    return 0;
  };
  std::string out;
  out.reserve(text.size());
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = is_control(i);
    if (n == 0) {
      out += text[i++];
      continue;
    }
    for (std::size_t k = 0; k < n; ++k, ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string format_stamp(std::int64_t at_ms, std::string_view format) {
  // Compiled once per format: every line of a stream is stamped with the same one.
  static std::string compiled_text;
  static std::optional<config::DateFormat> compiled;
  if (!compiled || compiled_text != format) {
    auto made = config::DateFormat::compile(format);
    if (!made) return std::string(format);  // checked when the options were read
    compiled = std::move(*made);
    compiled_text = std::string(format);
  }
  return compiled->format(std::chrono::system_clock::time_point(std::chrono::milliseconds(at_ms)));
}

std::string format_log_line(const LogLine& line, const LogsOptions& o) {
  std::string stamp;
  if (o.timestamp) stamp = format_stamp(line.at_ms, o.timestamp->empty() ? kDefaultStampFormat : *o.timestamp);
  if (o.json) {
    json j = {{"message", line.text},
              {"timestamp", stamp.empty() ? format_stamp(line.at_ms, "YYYY-MM-DDTHH:mm:ss.SSS") : stamp},
              {"type", line.err ? "err" : "out"},
              {"process_id", line.id},
              {"app_name", line.name}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  std::string out;
  if (!o.raw) {
    const std::string prefix = padded(std::to_string(line.id) + "|" + line.name) + " | ";
    if (o.color) out += std::string(line.err ? kRed : kGreen) + prefix + kColorOff;
    else out += prefix + (line.err ? "err | " : "");
  }
  if (!stamp.empty()) out += stamp + ": ";
  const std::string text = o.escape ? escape_controls(line.text) : line.text;
  out += o.color ? highlighted(text, o.highlight) : text;
  out += '\n';
  return out;
}

std::string format_state_event(const json& params, const LogsOptions& o) {
  if (o.raw || o.json) return "";
  const std::string from = params.value("from", "");
  const std::string to = params.value("to", "");
  if (from == to) return "";
  std::string text = std::to_string(params.value("pm_id", -1)) + "|" + params.value("name", "?") + ": " +
                     params.value("status", to);
  const int pid = params.value("pid", 0);
  if (to == "online" && pid > 0) text += " (pid " + std::to_string(pid) + ")";
  const std::string reason = params.value("reason", "");
  if (to != "online" && !reason.empty()) text += " (" + reason + ")";
  const std::string prefix = padded("PMX") + " | ";
  return (o.color ? std::string(kBlue) + prefix + kColorOff : prefix) + text + "\n";
}

std::vector<LogLine> log_lines(const json& params) {
  LogLine line;
  line.id = params.value("id", -1);
  line.name = params.value("name", "");
  line.err = params.value("type", "") == "err";
  line.at_ms = params.value("at", std::int64_t{0});
  std::vector<LogLine> lines;
  const std::string data = params.value("data", "");
  std::size_t from = 0;
  while (from < data.size()) {
    auto nl = data.find('\n', from);
    if (nl == std::string::npos) nl = data.size();
    line.text.assign(data, from, nl - from);
    lines.push_back(line);
    from = nl + 1;
  }
  return lines;
}

int run_logs(const config::Paths& paths, const LogsOptions& o, std::optional<std::chrono::milliseconds> timeout) {
  // A closed stdout (`| head`) is seen as EPIPE, and Ctrl-C ends quietly: nothing is buffered.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, [](int) { ::_exit(kOk); });

  ipc::Client client;
  connect(client, paths, true);
  client.set_timeout(timeout.value_or(std::chrono::milliseconds{10'000}));
  auto refused = [](const ipc::RpcError& e) {
    std::cerr << "pmx: " << e.message << "\n";
    const auto kind = e.data.value("kind", std::string());
    if (kind == "transport" || kind == "timeout") return int(kUnreachable);
    return kind == "invalid_params" ? int(kUsage) : int(kFailed);
  };
  const bool stream = !o.nostream;
  if (stream) {
    // Before `logs`, so a restart right after the tail is printed too.
    if (auto r = client.call("subscribe", {{"topics", json::array({"events"})}}); r.error) return refused(*r.error);
  }
  json streams = json::array();
  if (!o.err_only) streams.push_back("out");
  if (!o.out_only) streams.push_back("err");
  json target = o.target;
  if (!o.target.empty() && o.target.find_first_not_of("0123456789") == std::string::npos && o.target.size() < 10) {
    target = std::stoi(o.target);
  }
  ipc::Response r = client.call(
      "logs", {{"targets", json::array({target})}, {"lines", o.lines}, {"streams", streams}, {"follow", stream}});
  if (r.error) return refused(*r.error);
  const json result = r.result.value_or(json::object());

  std::set<int> ids;
  for (const auto& id : result.value("ids", json::array())) ids.insert(id.get<int>());
  const bool headers = !o.raw && !o.json && o.lines > 0;
  auto grey = [&](const std::string& text) { return o.color ? std::string(kGrey) + text + kColorOff : text; };
  if (headers) {
    std::string head = "[TAILING] Tailing last " + std::to_string(o.lines) + " lines for [" + o.target +
                       "] process" + (o.target == "all" ? "es" : "") + " (change the value with --lines option)";
    if (o.color) head = std::string(kBold) + grey(head) + kBoldOff;
    if (!emit(head + "\n")) return kOk;
  }
  const std::int64_t printed_at = now_ms();
  for (const auto& file : result.value("files", json::array())) {
    if (o.lines == 0) break;
    const auto& lines = file["lines"];
    std::string out;
    if (headers) out += grey(file.value("path", "") + " last " + std::to_string(o.lines) + " lines:") + "\n";
    LogLine line;
    const auto& file_ids = file["ids"];
    line.id = file_ids.empty() ? -1 : file_ids.front().get<int>();
    line.name = file.value("name", "");
    line.err = file.value("type", "") == "err";
    line.at_ms = printed_at;
    for (const auto& text : lines) {
      line.text = text.get<std::string>();
      out += format_log_line(line, o);
    }
    if (headers) out += "\n";
    if (!emit(out)) return kOk;
  }
  if (!stream) return kOk;

  for (;;) {
    auto note = client.next_notification(std::chrono::milliseconds{250});
    if (!note) {
      if (!client.connected()) {
        std::cerr << "pmx: pmxd closed the connection\n";
        return kUnreachable;
      }
      if (reader_gone()) return kOk;
      continue;
    }
    const std::string method = note->value("method", "");
    const json& params = (*note)["params"];
    std::string out;
    if (method == "log") {
      ids.insert(params.value("id", -1));
      for (const LogLine& line : log_lines(params)) out += format_log_line(line, o);
    } else if (method == "dropped") {
      // pmxd skips what this reader could not take in time (its queue is bounded).
      const auto lines = params.value("lines", std::uint64_t{0});
      if (lines > 0) out = "[pmx] " + std::to_string(lines) + " lines skipped\n";
      else out = "[pmx] " + std::to_string(params.value("count", std::uint64_t{0})) + " events skipped\n";
      if (o.json) out.clear();
    } else if (method == "instance.state") {
      const int id = params.value("pm_id", -1);
      if (o.target == "all" || ids.count(id) || params.value("name", "") == o.target) {
        ids.insert(id);
        out = format_state_event(params, o);
      }
    }
    if (!out.empty() && !emit(out)) return kOk;
  }
}

}  // namespace pmx::cli
