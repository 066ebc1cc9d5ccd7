// DependencyGraph: cycles, unknown names, start order and stop waves of the apps' depends_on.
#include "config/dependency_graph.hpp"

#include <algorithm>
#include <functional>
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
  std::vector<std::size_t> path;
  std::optional<std::vector<std::string>> found;
  // Depth first; each app is visited once, so the depth is at most the number of apps.
  std::function<bool(std::size_t)> visit = [&](std::size_t i) {
    marks[i] = Mark::OnPath;
    path.push_back(i);
    for (const auto& dep : graph[i].depends_on) {
      auto it = index.find(dep);
      if (it == index.end()) continue;
      const std::size_t j = it->second;
      if (marks[j] == Mark::OnPath) {
        std::vector<std::string> cycle;
        auto from = std::find(path.begin(), path.end(), j);
        for (auto p = from; p != path.end(); ++p) cycle.push_back(graph[*p].name);
        cycle.push_back(graph[j].name);
        found = std::move(cycle);
        return true;
      }
      if (marks[j] == Mark::New && visit(j)) return true;
    }
    path.pop_back();
    marks[i] = Mark::Done;
    return false;
  };
  for (std::size_t i = 0; i < graph.size(); ++i) {
    if (marks[i] == Mark::New && visit(i)) break;
  }
  return found;
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
  std::vector<bool> placed(graph.size(), false);
  std::vector<std::string> out;
  std::function<void(std::size_t)> place = [&](std::size_t i) {
    if (placed[i]) return;
    placed[i] = true;  // no cycle: marking before the dependencies cannot skip one
    for (const auto& dep : graph[i].depends_on) {
      if (auto it = index.find(dep); it != index.end()) place(it->second);
    }
    out.push_back(graph[i].name);
  };
  for (std::size_t i = 0; i < graph.size(); ++i) place(i);
  return out;
}

std::vector<std::vector<std::string>> stop_waves(const DependencyGraph& graph) {
  const auto index = app_index(graph);
  std::vector<bool> stopped(graph.size(), false);
  std::size_t left = graph.size();
  std::vector<std::vector<std::string>> waves;
  while (left > 0) {
    // An app can stop once no app still running depends on it.
    std::vector<bool> needed(graph.size(), false);
    for (std::size_t i = 0; i < graph.size(); ++i) {
      if (stopped[i]) continue;
      for (const auto& dep : graph[i].depends_on) {
        if (auto it = index.find(dep); it != index.end() && it->second != i) needed[it->second] = true;
      }
    }
    std::vector<std::string> wave;
    for (std::size_t i = 0; i < graph.size(); ++i) {
      if (!stopped[i] && !needed[i]) wave.push_back(graph[i].name);
    }
    if (wave.empty()) {  // a cycle: the rest together
      for (std::size_t i = 0; i < graph.size(); ++i) {
        if (!stopped[i]) wave.push_back(graph[i].name);
      }
    }
    for (const auto& name : wave) stopped[index.at(name)] = true;
    left -= wave.size();
    waves.push_back(std::move(wave));
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
