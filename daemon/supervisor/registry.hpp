// Registry: every app and instance pmxd knows, by name, by pm_id and by leader pid, and the
// targets a client names resolved to instances.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/instance/app.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

/// The apps by name, each owning its instances; every instance by pm_id (walks in pm_id order:
/// list, sampling, stop all); and the leader pid of each run pmxd watches, to route exits.
/// An app is added with its first instance and dropped with its last, so none is ever empty.
class Registry {
 public:
  using Apps = std::map<std::string, App>;
  using ById = std::map<int, Instance*>;

  Instance* find(int id) const;
  App* app(const std::string& name);
  const App* app(const std::string& name) const;
  const Apps& apps() const { return apps_; }
  Apps& apps() { return apps_; }
  const ById& by_id() const { return by_id_; }
  bool empty() const { return by_id_.empty(); }

  /// Puts in into the app of its name (made if new) and the id index.
  Instance& insert(std::unique_ptr<Instance> in);
  /// Destroys the instance and drops its app when it was the last; false when there is none.
  bool erase(int id);
  /// The app of this name, made empty if it is new (to bind its sockets before any instance
  /// exists); drop_if_empty undoes it.
  App& app_for(const std::string& name) { return apps_.try_emplace(name, name).first->second; }
  void drop_if_empty(const std::string& name);

  /// The pm_id a new instance gets (the wanted one when it is free, else the next), marked taken.
  int take_id(int wanted = -1);
  /// The id the next new instance gets.
  int next_id() const { return next_id_; }
  void set_next_id(int id) { next_id_ = id; }

  /// pid is the leader of a run of instance id (exits of pid go to it); forget drops it.
  void add_leader(pid_t pid, int id) { by_pid_[pid] = id; }
  /// The instance whose run has this leader, removed from the index; nullopt for an unknown pid.
  std::optional<int> take_leader(pid_t pid);
  /// The instance whose run has this leader, without removing it.
  std::optional<int> leader_of(pid_t pid) const;

  /// The ids that params.targets name (names, ids, namespaces, script paths relative to
  /// params.cwd, "all"), in pm_id order; or the error naming what matches nothing.
  std::optional<ipc::RpcError> resolve(const ipc::json& params, std::vector<int>& ids) const;

 private:
  Apps apps_;
  ById by_id_;
  std::map<pid_t, int> by_pid_;
  int next_id_ = 0;
};

}  // namespace pmx::daemon
