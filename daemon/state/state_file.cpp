// StateFile: encode/decode of the daemon's state, and the atomic write.
#include "daemon/state/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include <limits>

#include <nlohmann/json.hpp>

#include "config/dump.hpp"
#include "config/json_access.hpp"
#include "config/json_depth.hpp"

namespace pmx::daemon {

using json = nlohmann::json;

namespace {

constexpr int kVersion = 1;

/// Wall-clock times in ms: from the epoch to 2^53 (what JavaScript counts exactly), so that
/// differences with the clock of now cannot overflow.
constexpr std::int64_t kMaxWallMs = std::int64_t{1} << 53;

/// The integer field key of j into out when it is a JSON integer within [min, max] (absent: the
/// default stays); false otherwise, out unchanged.
template <typename T>
bool read_number(const json& j, const char* key, T& out, T min, T max) {
  const json* v = config::member(j, key);
  if (!v) return true;
  // Every field fits an int64 (pid_start: clock ticks since boot).
  const auto lo = static_cast<std::int64_t>(min);
  const auto hi = static_cast<std::uint64_t>(max) > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                      ? std::numeric_limits<std::int64_t>::max()
                      : static_cast<std::int64_t>(max);
  auto n = config::as_int(*v, lo, hi);
  if (!n) return false;
  out = static_cast<T>(*n);
  return true;
}

/// The field key of j into out, when present: false when it has the wrong type or, for a
/// number, lies outside [min, max] (defaults: out's type's range). Absent: the default stays.
template <typename T>
bool read_field(const json& j, const char* key, T& out) {
  const json* v = config::member(j, key);
  if (!v) return true;  // optional: the default stays
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v->is_string()) return false;
    out = v->template get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v->is_array()) return false;
    for (const auto& e : *v) {
      if (!e.is_string()) return false;
      out.push_back(e.template get<std::string>());
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v->is_boolean()) return false;
    out = v->template get<bool>();
  } else {
    return read_number(j, key, out, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  }
  return true;
}

}  // namespace

std::string encode_state(const DaemonState& state) {
  // Written piece by piece, one environment or instance at a time: a document of every
  // instance built at once took 3.5 MB at 100 apps for a moment at each write, and the heap
  // kept that high-water mark (docs/benchmarks.md). The keys in nlohmann's order (sorted), as
  // a whole document's dump would have them.
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::string text = "{\"envs\":[";
  for (std::size_t i = 0; i < state.envs.size(); ++i) {
    if (i) text += ',';
    text += state.envs[i] ? dump(json(*state.envs[i])) : "{}";
  }
  text += "],\"instances\":[";
  bool first = true;
  for (const auto& r : state.instances) {
    json side = json::array();
    for (const auto& run : r.side_runs) {
      side.push_back({{"pid", run.pid}, {"pid_start", run.pid_start}, {"cgroup", run.cgroup}, {"replacement", run.replacement}});
    }
    if (!std::exchange(first, false)) text += ',';
    text += dump({
        {"id", r.id},
        {"spec", config::to_json(r.spec)},
        {"env_index", r.env_index},
        {"unique_id", r.unique_id},
        {"app_instance", r.app_instance},
        {"state", r.state},
        {"pid", r.pid},
        {"pid_start", r.pid_start},
        {"cgroup", r.cgroup},
        {"old_cgroups", r.old_cgroups},
        {"cgroup_generation", r.cgroup_generation},
        {"restart_count", r.restart_count},
        {"unstable_restarts", r.unstable_restarts},
        {"consecutive_unstable", r.consecutive_unstable},
        {"prev_restart_delay_ms", r.prev_restart_delay_ms},
        {"created_at_ms", r.created_at_ms},
        {"started_at_ms", r.started_at_ms},
        {"out_path", r.out_path},
        {"err_path", r.err_path},
        {"pid_path", r.pid_path},
        {"exec_error", r.exec_error},
        {"side_runs", side},
    });
  }
  text += "],\"next_id\":" + std::to_string(state.next_id) + ",\"version\":" + std::to_string(kVersion) + "}\n";
  return text;
}

Result<DaemonState> decode_state(const std::string& text) {
  // Before parsing: every later walk of the document (copy, destruction) recurses.
  if (auto depth = config::check_json_depth(text); !depth) return Error{depth.error()};
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Error{"not a JSON object"};
  const json* version = config::member(doc, "version");
  if (!version) return Error{"no version"};
  if (config::as_int(*version, kVersion, kVersion) != kVersion) return Error{"unknown version " + version->dump()};
  DaemonState state;
  if (!read_number(doc, "next_id", state.next_id, 0, config::kMaxPmId + 1)) return Error{"bad next_id"};
  auto envs = doc.find("envs");
  if (envs == doc.end() || !envs->is_array()) return Error{"envs must be a list"};
  for (const auto& e : *envs) {
    if (!e.is_object()) return Error{"an env must be an object"};
    config::Env env;
    for (const auto& [k, v] : e.items()) {
      if (!v.is_string()) return Error{"env values must be strings"};
      env.emplace(k, v.get<std::string>());
    }
    state.envs.push_back(std::make_shared<const config::Env>(std::move(env)));
  }
  auto instances = doc.find("instances");
  if (instances == doc.end() || !instances->is_array()) return Error{"instances must be a list"};
  for (const auto& j : *instances) {
    if (!j.is_object()) return Error{"an instance must be an object"};
    InstanceRecord r;
    auto spec = j.find("spec");
    if (spec == j.end()) return Error{"an instance has no spec"};
    auto parsed = config::spec_from_json(*spec);
    if (!parsed) return Error{"instance spec: " + parsed.error()};
    r.spec = std::move(*parsed);
    // Counters and times within what the daemon can add to without overflowing; pids and ids
    // not negative.
    constexpr int kMaxCount = std::numeric_limits<int>::max();
    bool ok = read_number(j, "id", r.id, 0, config::kMaxPmId) &&
              read_field(j, "env_index", r.env_index) &&
              read_field(j, "unique_id", r.unique_id) && read_number(j, "app_instance", r.app_instance, 0, config::kMaxPmId) &&
              read_field(j, "state", r.state) && read_number(j, "pid", r.pid, 0, std::numeric_limits<pid_t>::max()) &&
              read_field(j, "pid_start", r.pid_start) && read_field(j, "cgroup", r.cgroup) &&
              read_field(j, "old_cgroups", r.old_cgroups) &&
              read_field(j, "cgroup_generation", r.cgroup_generation) &&
              read_number(j, "restart_count", r.restart_count, 0, kMaxCount) &&
              read_number(j, "unstable_restarts", r.unstable_restarts, 0, kMaxCount) &&
              read_number(j, "consecutive_unstable", r.consecutive_unstable, 0, kMaxCount) &&
              read_number(j, "prev_restart_delay_ms", r.prev_restart_delay_ms, std::int64_t{0}, kMaxWallMs) &&
              read_number(j, "created_at_ms", r.created_at_ms, std::int64_t{0}, kMaxWallMs) &&
              read_number(j, "started_at_ms", r.started_at_ms, std::int64_t{0}, kMaxWallMs) &&
              read_field(j, "out_path", r.out_path) && read_field(j, "err_path", r.err_path) &&
              read_field(j, "pid_path", r.pid_path) && read_field(j, "exec_error", r.exec_error);
    if (const json* side = config::member(j, "side_runs"); ok && side) {
      ok = side->is_array();
      for (const auto& s : ok ? *side : json::array()) {
        SideRun run;
        ok = ok && s.is_object() && read_number(s, "pid", run.pid, 0, std::numeric_limits<pid_t>::max()) &&
             read_field(s, "pid_start", run.pid_start) && read_field(s, "cgroup", run.cgroup) &&
             read_field(s, "replacement", run.replacement);
        if (ok) r.side_runs.push_back(std::move(run));
      }
    }
    if (!ok) return Error{"instance " + std::to_string(state.instances.size()) + ": a field has the wrong type or is out of range"};
    if (r.env_index >= state.envs.size()) {
      return Error{"instance " + std::to_string(r.id) + ": env_index " + std::to_string(r.env_index) + " names no env"};
    }
    state.instances.push_back(std::move(r));
  }
  return state;
}

std::error_code write_file_atomic(const std::string& path, const std::string& text, bool durable) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return {errno, std::generic_category()};
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::error_code ec{errno, std::generic_category()};
      ::close(fd);
      ::unlink(tmp.c_str());
      return ec;
    }
    done += static_cast<std::size_t>(n);
  }
  if ((durable && ::fsync(fd) != 0) || ::close(fd) != 0) {
    std::error_code ec{errno, std::generic_category()};
    ::unlink(tmp.c_str());
    return ec;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::error_code ec{errno, std::generic_category()};
    ::unlink(tmp.c_str());
    return ec;
  }
  if (!durable) return {};
  const std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace pmx::daemon
