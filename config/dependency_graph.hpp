// DependencyGraph: the apps' `depends_on` as a graph: cycles named, names that are no app found,
// the order in which apps start (dependencies first) and stop (dependents first). Pure.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pmx::config {

/// One app and the names it depends on (AppSpec::depends_on).
struct AppDependencies {
  std::string name;
  std::vector<std::string> depends_on;
};

/// The apps in a given order (a file's, or pm_id order); each name once.
using DependencyGraph = std::vector<AppDependencies>;

/// The first cycle found walking the apps in order, as the names along it with the first one
/// again at the end ({"a", "b", "a"}; {"a", "a"} for an app that depends on itself); nullopt
/// when there is none. Names that are no app of the graph end a walk.
std::optional<std::vector<std::string>> find_cycle(const DependencyGraph& graph);

/// A cycle as the error names it: "a -> b -> a".
std::string cycle_text(const std::vector<std::string>& cycle);

/// A name an app depends on that is neither an app of the graph nor known elsewhere.
struct UnknownDependency {
  std::string app;   ///< the app that names it
  std::string name;  ///< the name
};

/// Every name depended on that is no app of the graph and not in `known` (the apps pmxd
/// already has), in the graph's order.
std::vector<UnknownDependency> unknown_dependencies(const DependencyGraph& graph, const std::set<std::string>& known);

/// The apps in an order where each comes after the apps of the graph it depends on, otherwise
/// in the graph's order; nullopt when there is a cycle (find_cycle names it).
std::optional<std::vector<std::string>> start_order(const DependencyGraph& graph);

/// The apps in waves to stop one after the other: first those no app of the graph depends on,
/// then those only they depended on, and so on; a dependency is stopped only after every
/// dependent. Each wave keeps the graph's order. Apps on a cycle (which a checked
/// configuration never has) end up together in the last wave: a stop never waits forever.
std::vector<std::vector<std::string>> stop_waves(const DependencyGraph& graph);

/// The wanted apps and, transitively, the apps of the graph they depend on, in the graph's
/// order (`--only web` of a file also starts web's dependencies in it).
std::vector<std::string> with_dependencies(const DependencyGraph& graph, const std::vector<std::string>& wanted);

}  // namespace pmx::config
