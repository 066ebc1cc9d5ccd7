// StartOrder: instances held until the apps they depend on are ready; new apps' depends_on
// checked; stop waves.
#include "daemon/supervisor/start_order.hpp"

#include <set>

#include <spdlog/spdlog.h>

#include "config/dependency_graph.hpp"

namespace pmx::daemon {

bool StartOrder::app_ready(const std::string& name) const {
  const App* app = registry_.app(name);
  if (!app) return false;
  bool any = false;
  for (const auto& [id, in] : app->instances()) {
    if (in->deleting) continue;
    any = true;
    if (in->fsm.state() != State::Online) return false;
    if (in->spec.health_check.enabled() && in->health.health != Health::Healthy) return false;
  }
  return any;
}

std::string StartOrder::app_at_rest(const std::string& name) const {
  const App* app = registry_.app(name);
  if (!app) return "not in pmxd";
  bool any = false;
  bool all_stopped = true;
  for (const auto& [id, in] : app->instances()) {
    if (in->deleting) continue;
    any = true;
    if (in->fsm.state() == State::Errored) return "errored";
    if (in->fsm.state() != State::Stopped) all_stopped = false;
  }
  if (!any) return "not in pmxd";
  return all_stopped ? "stopped" : "";
}

std::string StartOrder::blocker(const Instance& in) const {
  for (const auto& dep : in.spec.depends_on) {
    if (app_ready(dep)) continue;
    const std::string rest = app_at_rest(dep);
    return "waiting for " + dep + (rest.empty() ? "" : " (" + rest + ")");
  }
  return "";
}

bool StartOrder::hold(Instance& in, std::function<void(Instance&)> resume) {
  std::string why = blocker(in);
  if (why.empty()) return false;
  if (why != in.start_blocker) spdlog::info("{} {}", label(in), why);
  in.start_blocker = std::move(why);
  held_[in.id] = std::move(resume);
  return true;
}

void StartOrder::check() {
  if (checking_) {
    again_ = true;
    return;
  }
  checking_ = true;
  do {
    again_ = false;
    std::vector<std::pair<int, std::function<void(Instance&)>>> ready;
    for (auto it = held_.begin(); it != held_.end();) {
      Instance* in = registry_.find(it->first);
      if (!in || in->fsm.state() != State::Launching || in->run.pid != 0) {
        if (in) in->start_blocker.clear();
        it = held_.erase(it);
        continue;
      }
      std::string why = blocker(*in);
      if (why.empty()) {
        spdlog::info("{} may start: the apps it depends on are ready", label(*in));
        in->start_blocker.clear();
        ready.emplace_back(it->first, std::move(it->second));
        it = held_.erase(it);
        continue;
      }
      if (why != in->start_blocker) spdlog::info("{} {}", label(*in), why);
      in->start_blocker = std::move(why);
      ++it;
    }
    for (auto& [id, resume] : ready) {
      if (Instance* in = registry_.find(id)) resume(*in);
    }
  } while (again_);
  checking_ = false;
}

bool StartOrder::cancel(int id) {
  auto it = held_.find(id);
  if (it == held_.end()) return false;
  if (Instance* in = registry_.find(id)) in->start_blocker.clear();
  held_.erase(it);
  return true;
}

bool StartOrder::stuck(const Instance& in) const {
  if (!held_.count(in.id)) return false;
  for (const auto& dep : in.spec.depends_on) {
    if (!app_ready(dep) && !app_at_rest(dep).empty()) return true;
  }
  return false;
}

std::optional<std::string> StartOrder::check_new(const std::vector<config::AppSpec>& specs) const {
  config::DependencyGraph added;
  std::set<std::string> names;
  for (const auto& spec : specs) {
    if (names.insert(spec.name).second) added.push_back({spec.name, spec.depends_on});
  }
  std::set<std::string> known;
  for (const auto& [name, app] : registry_.apps()) {
    if (!app.instances().empty()) known.insert(name);
  }
  if (auto unknown = config::unknown_dependencies(added, known); !unknown.empty()) {
    return "app '" + unknown[0].app + "': option 'depends_on' names '" + unknown[0].name + "', which is no app of pmx";
  }
  // The cycle may close through apps pmxd has: their depends_on count too.
  config::DependencyGraph all = added;
  for (const auto& [name, app] : registry_.apps()) {
    if (names.count(name) || app.instances().empty()) continue;
    all.push_back({name, app.instances().begin()->second->spec.depends_on});
  }
  if (auto cycle = config::find_cycle(all)) {
    return "app '" + cycle->front() + "': option 'depends_on' makes a cycle: " + config::cycle_text(*cycle);
  }
  return std::nullopt;
}

std::vector<std::vector<int>> StartOrder::stop_waves(const std::vector<int>& ids) const {
  config::DependencyGraph graph;
  std::map<std::string, std::vector<int>> by_app;
  for (int id : ids) {
    const Instance* in = registry_.find(id);
    if (!in) continue;
    auto [it, fresh] = by_app.try_emplace(in->spec.name);
    if (fresh) graph.push_back({in->spec.name, in->spec.depends_on});
    it->second.push_back(id);
  }
  std::vector<std::vector<int>> out;
  for (const auto& wave : config::stop_waves(graph)) {
    std::vector<int> wave_ids;
    for (const auto& name : wave) wave_ids.insert(wave_ids.end(), by_app[name].begin(), by_app[name].end());
    out.push_back(std::move(wave_ids));
  }
  return out;
}

}  // namespace pmx::daemon
