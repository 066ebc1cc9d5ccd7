// DumpVerbs: `save`, `resurrect` and `cleardump`. The dump is written whole and atomically (temp file, fsync, rename,
// fsync of the folder), the one before it kept as dump.pmx.bak, so that a pmxd killed mid-write
// or a full disk leaves the previous dump valid. A dump that does not read falls back to the
// backup, and the reply says so.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "config/dump.hpp"
#include "config/json_access.hpp"
#include "daemon/state/state_file.hpp"
#include "daemon/supervisor/dump_verbs.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;

namespace {

/// The (uid, gid) options of the saved instances, for CredentialsCache::known_or_resolve.
std::vector<CredentialsCache::Key> credential_keys(const std::vector<config::SavedInstance>& saved) {
  std::vector<CredentialsCache::Key> keys;
  for (const auto& entry : saved) {
    if (!entry.spec.uid.empty() || !entry.spec.gid.empty()) keys.emplace_back(entry.spec.uid, entry.spec.gid);
  }
  return keys;
}

/// The file's text; false when it cannot be read (missing: errno ENOENT).
bool read_text(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  text = s.str();
  return !in.bad();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string file_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

/// Writes list as the dump, the old one (if it reads) kept as the backup. An empty list does
/// not replace a non-empty dump unless forced. The error says what failed. It waits for the
/// disk (fsync): run on the background writer, never on the loop.
std::optional<std::string> write_dump(const config::Paths& paths, const std::vector<config::SavedInstance>& list,
                                      bool force, bool& backed_up) {
  std::string old;
  backed_up = false;
  if (read_text(paths.dump(), old)) {
    auto previous = config::decode_dump(old);
    if (previous && list.empty() && !previous->empty() && !force) {
      return "no app to save, and " + paths.dump() + " holds " + std::to_string(previous->size()) +
             " instance(s): pmx save --force replaces it with an empty list (pmx cleardump empties it)";
    }
    // Only a dump that reads becomes the backup: a corrupt one must not replace a good backup.
    if (previous) {
      if (auto ec = write_file_atomic(paths.dump_backup(), old)) {
        return "cannot write " + paths.dump_backup() + ": " + ec.message() + "; " + paths.dump() + " is unchanged";
      }
      backed_up = true;
    }
  }
  if (auto ec = write_file_atomic(paths.dump(), config::encode_dump(list, utc_now()))) {
    return "cannot write " + paths.dump() + ": " + ec.message() + "; the previous dump is kept";
  }
  return std::nullopt;
}

}  // namespace

DumpVerbs::DumpVerbs(config::Paths paths, Registry& registry, ProcessOps& processes, AppSockets& sockets,
                     EnvPool& envs, CredentialsCache& credentials, BackgroundWriter& writer, SettleWaiters& waiters,
                     InstanceControl& control)
    : paths_(std::move(paths)),
      registry_(registry),
      processes_(processes),
      sockets_(sockets),
      envs_(envs),
      credentials_(credentials),
      writer_(writer),
      waiters_(waiters),
      control_(control) {}

Result<SavedDump> DumpVerbs::read_dump() const {
  const auto& paths = paths_;
  const bool has_main = exists(paths.dump()), has_backup = exists(paths.dump_backup());
  if (!has_main && !has_backup) return SavedDump{};
  std::string why;
  if (std::string text; !has_main) {
    why = file_name(paths.dump()) + " is missing";
  } else if (!read_text(paths.dump(), text)) {
    why = file_name(paths.dump()) + ": " + std::strerror(errno);
  } else if (auto main = config::decode_dump(text); main) {
    return SavedDump{std::move(*main), paths.dump(), ""};
  } else {
    why = file_name(paths.dump()) + ": " + main.error();
  }
  std::string backup;
  if (!has_backup) return Error{why + ", and there is no " + file_name(paths.dump_backup())};
  if (!read_text(paths.dump_backup(), backup)) return Error{why + ", and " + file_name(paths.dump_backup()) + ": " + std::strerror(errno)};
  auto older = config::decode_dump(backup);
  if (!older) return Error{why + ", and " + file_name(paths.dump_backup()) + ": " + older.error()};
  return SavedDump{std::move(*older), paths.dump_backup(), why + "; restored from " + file_name(paths.dump_backup())};
}

void DumpVerbs::save(const ipc::json& params, const Reply& reply) {
  const auto force_param = config::bool_field(params, "force");
  if (!force_param) return reply.fail(ipc::invalid_param("force", force_param.error()));
  const bool force = force_param->value_or(false);
  std::vector<config::SavedInstance> list;
  for (const auto& [id, in] : registry_.by_id()) {
    if (in->deleting) continue;
    config::SavedInstance saved;
    saved.pm_id = id;
    saved.spec = in->spec;
    saved.spec.instances = 1;  // one entry per instance
    if (in->caller_env) saved.env = *in->caller_env;
    saved.stopped = in->fsm.state() == State::Stopped;
    list.push_back(std::move(saved));
  }
  // Written (and fsynced) by the background writer; answered once it is on disk.
  writer_.run([paths = paths_, list = std::move(list), force, reply]() -> BackgroundWriter::Then {
    bool backed_up = false;
    auto error = write_dump(paths, list, force, backed_up);
    return [paths, error, backed_up, saved = list.size(), reply] {
      if (error) {
        spdlog::error("save: {}", *error);
        return reply.fail(make_error(ErrorCode::Failed, *error));
      }
      spdlog::info("saved {} instance(s) to {}", saved, paths.dump());
      reply.ok({{"path", paths.dump()}, {"saved", saved}, {"backup", backed_up ? ipc::json(paths.dump_backup()) : ipc::json()}});
    };
  });
}

void DumpVerbs::cleardump(const Reply& reply) {
  writer_.run([paths = paths_, reply]() -> BackgroundWriter::Then {
    bool backed_up = false;
    auto error = write_dump(paths, {}, true, backed_up);
    return [paths, error, backed_up, reply] {
      if (error) return reply.fail(make_error(ErrorCode::Failed, *error));
      spdlog::info("cleared {}", paths.dump());
      reply.ok({{"path", paths.dump()}, {"backup", backed_up ? ipc::json(paths.dump_backup()) : ipc::json()}});
    };
  });
}

void DumpVerbs::resurrect(const ipc::json& params, const Reply& reply) {
  const auto given = config::object_field(params, "dump");
  if (!given) return reply.fail(ipc::invalid_param("dump", given.error() + " (a pmx dump)"));
  const auto source = config::string_field(params, "source");
  if (!source) return reply.fail(ipc::invalid_param("source", source.error()));
  SavedDump dump;
  if (*given) {
    // An imported dump (pmx resurrect --from-pm2): the CLI has read it into pmx's format.
    auto decoded = config::decode_dump((*given)->dump());
    if (!decoded) return reply.fail(make_error(ErrorCode::InvalidParams, "params.dump: " + decoded.error(), {{"param", "dump"}}));
    dump = {std::move(*decoded), std::string(source->value_or("params.dump")), ""};
  } else {
    auto read = read_dump();
    if (!read) return reply.fail(make_error(ErrorCode::Failed, "cannot resurrect: " + read.error()));
    if (read->source.empty()) {
      return reply.fail(make_error(ErrorCode::NotFound, "no dump: " + paths_.dump() + " does not exist (pmx save writes it)"));
    }
    dump = std::move(*read);
  }
  // The apps' users are looked up off the loop first; then the request is handled again.
  if (!credentials_.known_or_resolve(credential_keys(dump.instances), [this, params, reply] {
        if (control_.shutting_down()) return reply.fail(shutting_down_error("resurrect"));
        resurrect(params, reply);
      })) {
    return;
  }
  auto outcome = add_saved(dump.instances);
  ipc::json result{{"source", dump.source},
              {"warning", dump.warning.empty() ? ipc::json() : ipc::json(dump.warning)},
              {"skipped", outcome.skipped},
              {"failed", outcome.failed}};
  const auto ids = outcome.ids;
  waiters_.wait_for(ids, settled_or_gone,
           [this, ids, result, reply]() mutable {
             result["apps"] = ipc::json::parse(control_.describe_all(ids, EntryShape::Full));
             reply.ok(result);
           });
}

DumpVerbs::Resurrected DumpVerbs::add_saved(const std::vector<config::SavedInstance>& saved) {
  Resurrected out;
  // Instances with the same caller environment share one copy of it (EnvPool).
  std::map<std::string, bool> refused;  // app name -> skipped or failed already
  std::vector<int> to_start;
  for (const auto& entry : saved) {
    const auto& spec = entry.spec;
    if (auto r = refused.find(spec.name); r != refused.end()) continue;
    // An app of this name that is here already (adopted, or started since) is not started twice.
    if (const App* same = registry_.app(spec.name); same && !out.started_apps.contains(spec.name)) {
      refused[spec.name] = true;
      out.skipped.push_back(spec.name);
      continue;
    }
    struct stat st{};
    std::string error;
    if (spec.script.empty() || spec.script[0] != '/') error = "script is not an absolute path";
    else if (::stat(spec.script.c_str(), &st) != 0) error = "script not found: " + spec.script;
    else if ((!spec.uid.empty() || !spec.gid.empty()) && ::geteuid() != 0) error = "options 'uid'/'gid' need pmxd to run as root";
    else if (auto valid = config::validate(spec); !valid) error = valid.error();
    else if (auto limited = processes_.check_limits(limits_of(spec)); !limited) error = limited.error();
    if (error.empty() && !entry.stopped && config::runs_in_cluster_mode(spec) && !spec.reuse_port) {
      App& owner = registry_.app_for(spec.name);
      if (!owner.listeners.bound()) {
        if (auto bound = sockets_.bind(owner, spec); !bound) error = "cannot listen on " + bound.error();
      }
      if (!error.empty()) registry_.drop_if_empty(spec.name);
    }
    if (!error.empty()) {
      spdlog::error("resurrect: app '{}': {}", spec.name, error);
      refused[spec.name] = true;
      out.failed.push_back({{"name", spec.name}, {"error", error}});
      continue;
    }
    const auto env = envs_.intern(entry.env);
    const bool free_id = entry.pm_id >= 0 && !registry_.by_id().contains(entry.pm_id);
    out.ids.push_back(control_.add_instance(spec, env, free_id ? entry.pm_id : -1));
    if (!entry.stopped) to_start.push_back(out.ids.back());
    out.started_apps.insert(spec.name);
  }
  control_.start_registered(to_start);
  spdlog::info("resurrected {} instance(s); {} app(s) already here, {} failed", out.ids.size(), out.skipped.size(),
               out.failed.size());
  return out;
}

void DumpVerbs::resurrect_at_start(std::function<void()> settled) {
  auto dump = read_dump();
  std::vector<int> ids;
  if (!dump) {
    spdlog::error("resurrect: {}", dump.error());
  } else if (dump->source.empty()) {
    spdlog::info("resurrect: no dump in {}", paths_.home);
  } else {
    if (!dump->warning.empty()) spdlog::warn("resurrect: {}", dump->warning);
    if (!credentials_.known_or_resolve(credential_keys(dump->instances), [this, settled] {
          if (control_.shutting_down()) return settled();  // nothing starts any more
          resurrect_at_start(settled);
        })) {
      return;
    }
    ids = add_saved(dump->instances).ids;
  }
  waiters_.wait_for(ids, settled_or_gone, std::move(settled));
}

}  // namespace pmx::daemon
