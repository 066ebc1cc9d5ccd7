// App: adding, removing and numbering the instances of one name.
#include "daemon/instance/app.hpp"

#include <cassert>
#include <set>
#include <utility>

namespace pmx::daemon {

Instance& App::add(std::unique_ptr<Instance> in) {
  assert(in && in->spec.name == name_ && !instances_.count(in->id));
  const int id = in->id;
  return *instances_.emplace(id, std::move(in)).first->second;
}

bool App::remove(int id) { return instances_.erase(id) > 0; }

Instance* App::find(int id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : it->second.get();
}

int App::free_app_instance() const {
  std::set<int> used;
  for (const auto& [id, in] : instances_) used.insert(in->app_instance);
  int index = 0;
  while (used.count(index)) ++index;
  return index;
}

}  // namespace pmx::daemon
