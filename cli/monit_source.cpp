// MonitSource: pmxd's `metrics`, `logs` with follow, the `events` topic and the verbs' requests,
// for `pmx monit`.
#include "cli/monit_source.hpp"

#include <cstring>

#include "cli/logs.hpp"

namespace pmx::cli::monit {

using json = nlohmann::json;

namespace {

/// How long monit waits for a reply to `metrics` or `logs` before it calls pmxd unreachable.
constexpr std::chrono::milliseconds kLookTimeout{5'000};
/// How long it waits for an action (a restart waits for the app to be up again).
constexpr std::chrono::milliseconds kActionTimeout{60'000};

}  // namespace

DaemonSource::DaemonSource(config::Paths paths, std::size_t log_lines)
    : paths_(std::move(paths)), log_lines_(log_lines) {}

std::optional<std::string> DaemonSource::ensure(ipc::Client& client) {
  if (client.connected()) return std::nullopt;
  if (auto ec = client.connect(paths_.socket()); ec) return ec.message();
  return std::nullopt;
}

Result<std::vector<AppRow>> DaemonSource::snapshot() {
  if (auto why = ensure(requests_)) return Error{*why};
  requests_.set_timeout(kLookTimeout);
  // `metrics`, not `list`: the figures monit shows without the entries' environments and
  // options, and only the history points monit does not have yet.
  ipc::Response r = requests_.call("metrics", {{"since", history_.since()}});
  if (r.error) {
    const std::string kind = r.error->data.is_object() ? r.error->data.value("kind", "") : "";
    if (kind == "transport" || kind == "timeout") requests_.close();
    return Error{r.error->message};
  }
  const json& result = r.result ? *r.result : json();
  auto rows = rows_of(result.is_object() && result.contains("instances") ? result["instances"] : json());
  if (rows) history_.record(*rows);
  // The follower went away with the last pmxd: follow again on the new one.
  if (!follower_.connected() && following_) following_ = false;
  if (!following_ && followed_ >= 0) follow_logs(followed_);
  return rows;
}

void DaemonSource::follow_logs(int id) {
  followed_ = id;
  following_ = false;
  if (id < 0) {
    follower_.close();
    return;
  }
  const bool fresh = !follower_.connected();
  if (ensure(follower_)) return;  // tried again at the next snapshot
  follower_.set_timeout(kLookTimeout);
  if (fresh) {
    // State changes make monit look again at once rather than at the next tick.
    ipc::Response sub = follower_.call("subscribe", {{"topics", json::array({"events"})}});
    if (sub.error) {
      follower_.close();
      return;
    }
  }
  ipc::Response r = follower_.call(
      "logs", {{"targets", json::array({id})}, {"lines", log_lines_}, {"follow", true}});
  if (r.error) {
    if (!r.error->data.is_object() || r.error->data.value("kind", "") != "not_found") follower_.close();
    return;
  }
  following_ = true;
  const json result = r.result.value_or(json::object());
  const json files = result.is_object() ? result.value("files", json::array()) : json::array();
  for (const json& file : files) {
    if (!file.is_object()) continue;
    const bool err = file.value("type", "") == "err";
    const json lines = file.value("lines", json::array());
    for (const json& line : lines) {
      if (line.is_string()) pending_.push_back({escape_controls(line.get<std::string>()), err});
    }
  }
}

void DaemonSource::drain() {
  while (follower_.connected()) {
    // What has arrived, without waiting; none: nothing more now, or pmxd went away.
    auto note = follower_.next_notification(std::chrono::milliseconds{0});
    if (!note) break;
    if (!note->is_object()) continue;
    try {
      handle_note(*note);
    } catch (const json::exception&) {
      // A field of an unexpected type: the notification is skipped.
    }
  }
}

void DaemonSource::handle_note(const json& note) {
  const std::string method = note.value("method", "");
  const json params = note.value("params", json::object());
  if (!params.is_object()) return;
  if (method == "log") {
    if (params.value("id", -1) != followed_) return;  // lines of the app followed before
    for (LogLine& line : log_lines(params)) pending_.push_back({escape_controls(line.text), line.err});
  } else if (method == "instance.state") {
    state_changed_ = true;
  } else if (method == "dropped" && params.value("lines", std::uint64_t{0}) > 0) {
    pending_.push_back({"[pmx] " + std::to_string(params.value("lines", std::uint64_t{0})) + " lines skipped", true});
  }
}

std::vector<LogTail::Line> DaemonSource::take_log_lines() {
  drain();
  return std::exchange(pending_, {});
}

bool DaemonSource::take_state_changed() {
  drain();
  return std::exchange(state_changed_, false);
}

Result<std::string> DaemonSource::act(const Action& action) {
  if (auto why = ensure(requests_)) return Error{"pmxd is not running (" + *why + ")"};
  requests_.set_timeout(kActionTimeout);
  ipc::Response r = requests_.call(action.method, action.params);
  if (r.error) {
    const std::string kind = r.error->data.is_object() ? r.error->data.value("kind", "") : "";
    if (kind == "transport" || kind == "timeout") requests_.close();
    return Error{action.describe + ": " + r.error->message};
  }
  if (r.result && r.result->is_object()) {
    if (const json message = r.result->value("message", json()); message.is_string()) return message.get<std::string>();
  }
  return action.describe + ": done";
}

}  // namespace pmx::cli::monit
