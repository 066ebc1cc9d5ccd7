// LogsVerb: the last lines of the targets' log files, then (with follow) the session
// follows their output through the log feed. The files' sizes are taken and the follow starts
// in one handler run: the sinks write on this same thread, so every line is either in the
// tail (before the size taken) or in the stream. The tails are sent in parts (LogsReply).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "config/json_access.hpp"
#include "daemon/logs/log_feed.hpp"
#include "daemon/logs/logs_reply.hpp"
#include "daemon/state/safe_path.hpp"
#include "daemon/supervisor/logs_verb.hpp"

namespace pmx::daemon {

namespace {

/// Bytes read from the end of one file for a tail, and from all the files of one request (the
/// reply must fit the client's queue; docs/protocol.md).
constexpr std::size_t kTailBytesPerFile = 8 * 1024 * 1024;
constexpr std::size_t kTailBytesPerRequest = 12 * 1024 * 1024;
constexpr std::size_t kDefaultLines = 15;

}  // namespace

void LogsVerb::handle(const ipc::json& params, const Reply& reply) {
  using json = ipc::json;
  using ipc::ErrorCode;
  using ipc::make_error;
  json request = params;
  if (!config::member(request, "targets")) request["targets"] = json::array({"all"});
  std::size_t lines = kDefaultLines;
  const auto n = config::int_field(request, "lines", 0);
  if (!n) return reply.fail(ipc::invalid_param("lines", "must be a number of lines (0 or more)"));
  if (*n) lines = static_cast<std::size_t>(**n);
  const auto follow_param = config::bool_field(request, "follow");
  if (!follow_param) return reply.fail(ipc::invalid_param("follow", follow_param.error()));
  const bool follow = follow_param->value_or(false);
  LogSelection selection;
  if (const json* streams = config::member(request, "streams"); streams && !streams->is_null()) {
    if (!streams->is_array() || streams->empty()) {
      return reply.fail(ipc::invalid_param("streams", "must be a list of \"out\" and \"err\""));
    }
    selection.out = selection.err = false;
    for (const auto& s : *streams) {
      if (s == "out") selection.out = true;
      else if (s == "err") selection.err = true;
      else return reply.fail(ipc::invalid_param("streams", "must be a list of \"out\" and \"err\""));
    }
  }
  if (follow) {
    auto session = reply.session();
    if (session && !server_.may_follow(*session)) return reply.fail(server_.too_many_followers());
  }

  // `all` with no app yet is no error: the follower sees the apps started later.
  std::vector<int> ids;
  const auto& targets = request["targets"];
  const bool only_all = targets.is_array() && !targets.empty() &&
                        std::all_of(targets.begin(), targets.end(), [](const json& t) { return t == "all"; });
  if (!(only_all && registry_.by_id().empty())) {
    if (auto err = registry_.resolve(request, ids)) return reply.fail(*err);
  }
  selection.ids.insert(ids.begin(), ids.end());
  for (const auto& t : targets) {
    if (!t.is_string()) continue;
    const auto& name = t.get_ref<const std::string&>();
    if (name == "all") {
      selection.all = true;
    } else if (registry_.apps().count(name)) {
      selection.names.insert(name);
    } else if (std::any_of(registry_.by_id().begin(), registry_.by_id().end(),
                           [&](const auto& entry) { return entry.second->spec.namespace_ == name; })) {
      selection.namespaces.insert(name);
    }
  }

  // One entry per file: instances that share one (merge_logs) are listed together. Each file
  // is opened (or its sink's descriptor duplicated) and its size taken now; the tails are then
  // read and sent part by part (LogsReply), while the follow starts now: lines written from
  // here on are the follow's, held by the session until the reply's last part.
  std::vector<TailFile> files;
  std::map<std::string, std::size_t> by_path;
  for (int id : ids) {
    const Instance& in = *registry_.by_id().at(id);
    for (Stream stream : {Stream::Out, Stream::Err}) {
      if (!selection.wants(stream)) continue;
      const std::string& path = stream == Stream::Out ? in.out_path : in.err_path;
      if (path.empty() || path == "/dev/null") continue;
      if (auto seen = by_path.find(path); seen != by_path.end()) {
        auto& listed = files[seen->second].entry["ids"];
        if (std::find(listed.begin(), listed.end(), id) == listed.end()) listed.push_back(id);
        continue;
      }
      // The tail comes from the file the sink writes (its fallback while the path is refused),
      // or, with no sink, from the path reached as the sink would reach it: never through a
      // link an app planted, never from a FIFO.
      const LogSink* sink = (stream == Stream::Out ? in.out_sink : in.err_sink).get();
      if (sink && sink->path() != path) sink = nullptr;
      TailFile file;
      if (lines > 0) {
        if (sink && sink->fd() >= 0) {
          file.fd.reset(::fcntl(sink->fd(), F_DUPFD_CLOEXEC, 0));
        } else {
          PathError error;
          file.fd = open_file(path, O_RDONLY, 0, false, error);
        }
        struct stat st{};
        if (file.fd && ::fstat(file.fd.get(), &st) == 0) file.size = st.st_size;
        else file.fd.reset();
      }
      file.entry = {{"path", sink ? sink->writing_to() : path},
                    {"ids", json::array({id})},
                    {"name", in.spec.name},
                    {"type", stream == Stream::Out ? "out" : "err"}};
      by_path.emplace(path, files.size());
      files.push_back(std::move(file));
    }
  }
  TailLimits limits;
  limits.lines = lines;
  limits.per_file = kTailBytesPerFile;
  limits.per_request = kTailBytesPerRequest;
  auto result = std::make_shared<LogsReply>(io_, json(ids), std::move(files), limits);
  reply.ok_stream(result->producer());
  if (follow) feed_.follow(reply.session(), std::move(selection));
}

}  // namespace pmx::daemon
