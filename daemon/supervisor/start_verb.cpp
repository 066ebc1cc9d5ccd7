// StartVerb: `start`. Each app is checked (its options, script, user, limits, PM2's duplicate
// rules, its dependencies) before any starts; the state file must be writable; the sockets of
// new cluster-mode apps are bound before anything runs. The reply waits until the instances
// have settled.
#include "daemon/supervisor/start_verb.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "config/json_access.hpp"
#include "config/listen_address.hpp"
#include "daemon/supervisor/env_param.hpp"
#include "daemon/supervisor/limits_param.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;

void StartVerb::handle(const ipc::json& params, const Reply& reply) {
  using json = ipc::json;
  // One app ("app") or several ("apps", from an ecosystem file): all are checked before any starts.
  const auto app_param = config::object_field(params, "app");
  if (!app_param) return reply.fail(ipc::invalid_param("app", app_param.error() + " of options"));
  const auto apps_param = config::array_field(params, "apps");
  if (!apps_param) return reply.fail(ipc::invalid_param("apps", apps_param.error() + " of apps"));
  const auto force_param = config::bool_field(params, "force");
  if (!force_param) return reply.fail(ipc::invalid_param("force", force_param.error()));
  json list = json::array();
  if (*app_param) list.push_back(**app_param);
  if (*apps_param) {
    for (const auto& a : **apps_param) list.push_back(a);
  }
  if (list.empty()) return reply.fail(make_error(ErrorCode::InvalidParams, "params.app or params.apps is required"));
  const bool force = force_param->value_or(false);
  std::vector<config::AppSpec> specs;
  std::vector<int> revive;  // stopped or errored apps started again
  std::map<int, Limits> revive_limits;
  for (const auto& entry : list) {
    auto parsed = config::spec_from_json(entry);
    if (!parsed) return reply.fail(make_error(ErrorCode::InvalidParams, parsed.error()));
    config::AppSpec spec = std::move(*parsed);
    if (spec.script.empty() || spec.script[0] != '/') {
      return reply.fail(make_error(ErrorCode::InvalidParams, "option 'script' must be an absolute path"));
    }
    struct stat st{};
    if (::stat(spec.script.c_str(), &st) != 0) {
      return reply.fail(make_error(ErrorCode::InvalidParams, "script not found: " + spec.script,
                                   {{"script", spec.script}}));
    }
    if (spec.cwd.empty()) spec.cwd = "/";
    if (!spec.uid.empty() || !spec.gid.empty()) {
      if (::geteuid() != 0) {
        return reply.fail(make_error(ErrorCode::InvalidParams,
                                     "options 'uid'/'gid': pmxd does not run as root, it cannot run apps as another user"));
      }
      auto creds = credentials_.get(spec.uid, spec.gid);
      if (!creds) {
        // Looked up off the loop; the request is handled again, from the start, once it is in.
        credentials_.resolve(spec.uid, spec.gid, [this, params, reply] {
          if (control_.shutting_down()) return reply.fail(shutting_down_error("start"));
          handle(params, reply);
        });
        return;
      }
      if (!*creds) {
        return reply.fail(make_error(ErrorCode::InvalidParams, creds->error()));
      }
    }
    // Limits the kernel cannot enforce here are refused, never silently dropped.
    if (auto ok = processes_.check_limits(limits_of(spec)); !ok) {
      return reply.fail(make_error(ErrorCode::InvalidParams, "app '" + spec.name + "': " + ok.error()));
    }
    // PM2's duplicate rules, unless forced: the same script under another name is a new app;
    // the same name and script is that app: started again when it is stopped or errored,
    // refused while it runs; the same name for another script is refused.
    const App* same = force || spec.force ? nullptr : registry_.app(spec.name);
    if (same) {
      std::vector<int> live;
      bool running = false;
      const Instance* other = nullptr;
      for (const auto& [id, in] : same->instances()) {
        if (in->deleting) continue;
        live.push_back(id);
        running = running || !is_stopped(in->fsm.state());
        if (in->spec.script != spec.script && !other) other = in.get();
      }
      if (other) {
        return reply.fail(make_error(ErrorCode::AlreadyExists,
                                     "an app named '" + spec.name + "' already runs " + other->spec.script + " (id " +
                                         std::to_string(other->id) + "); choose another --name, or use -f",
                                     {{"id", other->id}, {"name", spec.name}}));
      }
      if (running) {
        return reply.fail(make_error(ErrorCode::AlreadyExists,
                                     "script already launched as '" + spec.name + "' (id " +
                                         std::to_string(live.front()) + "); use -f to start another copy",
                                     {{"id", live.front()}, {"name", spec.name}}));
      }
      if (!live.empty()) {
        for (int id : live) revive_limits[id] = limits_of(spec);  // the file's limits again, once all is checked
        revive.insert(revive.end(), live.begin(), live.end());
        continue;
      }
    }
    specs.push_back(std::move(spec));
  }
  if (auto bad = start_order_.check_new(specs)) return reply.fail(make_error(ErrorCode::InvalidParams, *bad));
  // What the state file does not record, the next pmxd would not know: nothing starts while it
  // cannot be written.
  if (auto ec = state_.now(); ec) {
    return reply.fail(make_error(ErrorCode::Failed, "cannot start: " + state_.path() + " cannot be written: " + ec.message()));
  }
  auto env_param = params.find("env");
  std::shared_ptr<const config::Env> caller_env;
  if (env_param != params.end() && !env_param->is_null()) {
    auto parsed = env_from_json(*env_param, "params.env");
    if (!parsed) return reply.fail(make_error(ErrorCode::InvalidParams, parsed.error(), {{"param", "env"}}));
    caller_env = envs_.intern(std::move(*parsed));
  } else {
    caller_env = envs_.intern({});
  }

  // The sockets of new cluster-mode apps are bound before anything starts: a port in use fails
  // the whole start, naming the address, and nothing runs.
  std::vector<std::string> bound_now;
  for (const auto& spec : specs) {
    if (!spec.autostart || !config::runs_in_cluster_mode(spec) || spec.reuse_port) continue;
    App& owner = registry_.app_for(spec.name);
    if (owner.listeners.bound()) continue;
    if (auto bound = sockets_.bind(owner, spec); !bound) {
      for (const auto& name : bound_now) registry_.apps().at(name).listeners.close();
      for (const auto& s : specs) {
        registry_.drop_if_empty(s.name);
      }
      return reply.fail(make_error(ErrorCode::Failed, "app '" + spec.name + "': cannot listen on " + bound.error(),
                                   {{"name", spec.name}}));
    }
    bound_now.push_back(spec.name);
  }

  std::vector<int> ids;
  for (int id : revive) {
    set_limits(registry_.find(id)->spec, revive_limits[id]);
    control_.dispatch(*registry_.find(id), Event::Restart);
    ids.push_back(id);
  }
  std::vector<int> to_start;
  for (const auto& spec : specs) {
    for (int n = 0; n < spec.instances; ++n) {
      ids.push_back(control_.add_instance(spec, caller_env, -1));
      if (spec.autostart) to_start.push_back(ids.back());
    }
  }
  control_.start_registered(to_start);
  // An instance waiting for an errored dependency is answered as it is: it will not start by itself.
  waiters_.wait_for(ids, [this](const Instance* in) { return settled_or_gone(in) || start_order_.stuck(*in); },
           [this, ids, reply, shape = entry_shape(params)] { reply.ok_text(control_.describe_all(ids, shape)); });
}

}  // namespace pmx::daemon
