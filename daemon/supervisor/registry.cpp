// Registry: apps by name, instances by pm_id and by leader pid, and targets resolved.
#include "daemon/supervisor/registry.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "config/json_access.hpp"
#include "config/paths.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;
using json = ipc::json;

Instance* Registry::find(int id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

App* Registry::app(const std::string& name) {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : &it->second;
}

const App* Registry::app(const std::string& name) const {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : &it->second;
}

Instance& Registry::insert(std::unique_ptr<Instance> in) {
  Instance& ref = app_for(in->spec.name).add(std::move(in));
  by_id_.emplace(ref.id, &ref);
  next_id_ = std::max(next_id_, ref.id + 1);
  return ref;
}

bool Registry::erase(int id) {
  Instance* in = find(id);
  if (!in) return false;
  const std::string name = in->spec.name;
  by_id_.erase(id);
  auto owner = apps_.find(name);
  owner->second.remove(id);  // in is gone from here on
  if (owner->second.empty()) apps_.erase(owner);
  return true;
}

void Registry::drop_if_empty(const std::string& name) {
  if (auto it = apps_.find(name); it != apps_.end() && it->second.empty()) apps_.erase(it);
}

int Registry::take_id(int wanted) {
  const int id = wanted >= 0 && !find(wanted) ? wanted : next_id_;
  next_id_ = std::max(next_id_, id + 1);
  return id;
}

std::optional<int> Registry::take_leader(pid_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return std::nullopt;
  const int id = it->second;
  by_pid_.erase(it);
  return id;
}

std::optional<int> Registry::leader_of(pid_t pid) const {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return std::nullopt;
  return it->second;
}

std::optional<ipc::RpcError> Registry::resolve(const json& params, std::vector<int>& ids) const {
  const json* t = config::array_at(params, "targets");
  if (!t || t->empty()) {
    return ipc::invalid_param("targets", "must be a non-empty list of names, ids, namespaces or scripts");
  }
  const auto cwd = config::string_field(params, "cwd");
  if (!cwd) return ipc::invalid_param("cwd", cwd.error());
  std::set<int> found;
  std::vector<std::string> unknown;
  for (const auto& target : *t) {
    std::string name;
    if (target.is_number_integer()) name = std::to_string(target.get<long long>());
    else if (target.is_string()) name = target.get<std::string>();
    else return ipc::invalid_param("targets", "must hold strings or ids only");
    bool matched = false;
    auto take = [&](const Instance& in) {
      if (in.deleting) return;
      found.insert(in.id);
      matched = true;
    };
    const bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
    if (name == "all") {
      for (const auto& [id, in] : by_id_) take(*in);
    }
    if (numeric) {
      // An id as pmx writes it: "07" names no instance.
      int id = 0;
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
      if (ec == std::errc{} && end == name.data() + name.size() && std::to_string(id) == name) {
        if (auto it = by_id_.find(id); it != by_id_.end()) take(*it->second);
      }
    }
    if (auto named = apps_.find(name); named != apps_.end()) {
      for (const auto& [id, in] : named->second.instances()) take(*in);
    }
    if (!matched && !numeric) {
      for (const auto& [app_name, app] : apps_) {
        for (const auto& [id, in] : app.instances()) {
          if (in->spec.namespace_ == name) take(*in);
        }
      }
    }
    if (!matched && !name.empty() && !numeric) {
      // A script path, as PM2 takes it (`pmx restart app.js`): the apps running that script.
      // Relative paths resolve against the caller's directory (params.cwd).
      const std::string script = config::absolute_path(name, std::string(cwd->value_or("/")));
      for (const auto& [id, in] : by_id_) {
        if (in->spec.script == script) take(*in);
      }
    }
    if (!matched) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    json data{{"targets", unknown}};
    std::string msg = (unknown.size() == 1 && unknown[0] == "all") ? "no app is registered"
                                                                     : "no app matches " + list;
    return make_error(ErrorCode::NotFound, msg, data);
  }
  ids.assign(found.begin(), found.end());
  return std::nullopt;
}

}  // namespace pmx::daemon
