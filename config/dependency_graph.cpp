// DependencyGraph: cycles, unknown names, start order and stop waves of the apps' depends_on.
#include "config/dependency_graph.hpp"

#include <algorithm>
#include <map>

namespace pmx::config {
namespace {

/// The position of each app of the graph by name.
std::map<std::string, std::size_t> app_index(const DependencyGraph& graph) {
  std::map<std::string, std::size_t> out;
  for (std::size_t i = 0; i < graph.size(); ++i) out.emplace(graph[i].name, i);
  return out;
}

}  // namespace

std::optional<std::vector<std::string>> find_cycle(const DependencyGraph& graph) {
  const auto index = app_index(graph);
  enum class Mark { New, OnPath, Done };
  std::vector<Mark> marks(graph.size(), Mark::New);
  // Depth first with a stack of its own (app, next edge): a request may chain thousands of
  // apps, which recursion would pay for with pmxd's stack.
  std::vector<std::pair<std::size_t, std::size_t>> path;
  for (std::size_t root = 0; root < graph.size(); ++root) {
    if (marks[root] != Mark::New) continue;
    marks[root] = Mark::OnPath;
    path.emplace_back(root, 0);
    while (!path.empty()) {
      const std::size_t i = path.back().first;
      const std::size_t edge = path.back().second++;
      if (edge == graph[i].depends_on.size()) {
        marks[i] = Mark::Done;
        path.pop_back();
        continue;
      }
      auto it = index.find(graph[i].depends_on[edge]);
      if (it == index.end()) continue;
      const std::size_t j = it->second;
      if (marks[j] == Mark::OnPath) {
        std::vector<std::string> cycle;
        auto from = std::find_if(path.begin(), path.end(), [&](const auto& step) { return step.first == j; });
        for (auto step = from; step != path.end(); ++step) cycle.push_back(graph[step->first].name);
        cycle.push_back(graph[j].name);
        return cycle;
      }
      if (marks[j] == Mark::New) {
        marks[j] = Mark::OnPath;
        path.emplace_back(j, 0);
      }
    }
  }
  return std::nullopt;
}

std::string cycle_text(const std::vector<std::string>& cycle) {
  std::string out;
  for (const auto& name : cycle) out += (out.empty() ? "" : " -> ") + name;
  return out;
}

std::vector<UnknownDependency> unknown_dependencies(const DependencyGraph& graph, const std::set<std::string>& known) {
  const auto index = app_index(graph);
  std::vector<UnknownDependency> out;
  for (const auto& app : graph) {
    for (const auto& dep : app.depends_on) {
      if (!index.count(dep) && !known.count(dep)) out.push_back({app.name, dep});
    }
  }
  return out;
}

std::optional<std::vector<std::string>> start_order(const DependencyGraph& graph) {
  if (find_cycle(graph)) return std::nullopt;
  const auto index = app_index(graph);
  std::vector<bool> seen(graph.size(), false);
  std::vector<std::string> out;
  // Each app after its dependencies: depth first, an app placed once its edges are walked.
  std::vector<std::pair<std::size_t, std::size_t>> path;
  for (std::size_t root = 0; root < graph.size(); ++root) {
    if (seen[root]) continue;
    seen[root] = true;
    path.emplace_back(root, 0);
    while (!path.empty()) {
      const std::size_t i = path.back().first;
      const std::size_t edge = path.back().second++;
      if (edge == graph[i].depends_on.size()) {
        out.push_back(graph[i].name);
        path.pop_back();
        continue;
      }
      auto it = index.find(graph[i].depends_on[edge]);
      if (it == index.end() || seen[it->second]) continue;
      seen[it->second] = true;
      path.emplace_back(it->second, 0);
    }
  }
  return out;
}

std::vector<std::vector<std::string>> stop_waves(const DependencyGraph& graph) {
  const auto index = app_index(graph);
  // How many apps not yet stopped depend on each one (Kahn's algorithm, dependents first):
  // linear in the apps and edges, however long a chain.
  std::vector<std::size_t> dependents(graph.size(), 0);
  for (std::size_t i = 0; i < graph.size(); ++i) {
    for (const auto& dep : graph[i].depends_on) {
      if (auto it = index.find(dep); it != index.end() && it->second != i) ++dependents[it->second];
    }
  }
  std::vector<bool> stopped(graph.size(), false);
  std::vector<std::size_t> wave;
  for (std::size_t i = 0; i < graph.size(); ++i) {
    if (dependents[i] == 0) wave.push_back(i);
  }
  std::size_t left = graph.size();
  std::vector<std::vector<std::string>> waves;
  while (left > 0) {
    if (wave.empty()) {  // a cycle: the rest together
      for (std::size_t i = 0; i < graph.size(); ++i) {
        if (!stopped[i]) wave.push_back(i);
      }
    }
    std::vector<std::size_t> next;
    std::vector<std::string> names;
    for (std::size_t i : wave) {
      stopped[i] = true;
      names.push_back(graph[i].name);
      for (const auto& dep : graph[i].depends_on) {
        auto it = index.find(dep);
        if (it == index.end() || it->second == i || stopped[it->second]) continue;
        if (--dependents[it->second] == 0) next.push_back(it->second);
      }
    }
    left -= wave.size();
    waves.push_back(std::move(names));
    std::sort(next.begin(), next.end());  // each wave in the graph's order
    wave = std::move(next);
  }
  return waves;
}

std::vector<std::string> with_dependencies(const DependencyGraph& graph, const std::vector<std::string>& wanted) {
  const auto index = app_index(graph);
  std::vector<bool> keep(graph.size(), false);
  std::vector<std::size_t> todo;
  for (const auto& name : wanted) {
    if (auto it = index.find(name); it != index.end()) todo.push_back(it->second);
  }
  while (!todo.empty()) {
    const std::size_t i = todo.back();
    todo.pop_back();
    if (keep[i]) continue;
    keep[i] = true;
    for (const auto& dep : graph[i].depends_on) {
      if (auto it = index.find(dep); it != index.end() && !keep[it->second]) todo.push_back(it->second);
    }
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < graph.size(); ++i) {
    if (keep[i]) out.push_back(graph[i].name);
  }
  return out;
}

}  // namespace pmx::config
