// Stops in dependency order: `stop`, `kill` and pmxd's own shutdown stop the dependents of an
// app (depends_on) and wait until they are stopped and quiet before they stop the app.
#include <memory>
#include <utility>

#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

/// The waves left to stop and what to do after the last one.
struct Supervisor::StopPlan {
  std::vector<std::vector<int>> waves;
  std::size_t next = 0;
  std::function<void()> done;
};

void Supervisor::stop_in_order(const std::vector<int>& ids, std::function<void()> done) {
  auto plan = std::make_shared<StopPlan>();
  plan->waves = start_order_.stop_waves(ids);
  plan->done = std::move(done);
  stop_next_wave(std::move(plan));
}

void Supervisor::stop_next_wave(std::shared_ptr<StopPlan> plan) {
  if (plan->next == plan->waves.size()) return plan->done();
  const std::vector<int> wave = plan->waves[plan->next++];
  // By id: a stop may answer a pending delete, which removes its instance from the registry.
  for (int id : wave) {
    if (Instance* in = registry_.find(id)) dispatch(*in, Event::Stop);
  }
  waiters_.wait_for(wave, [this](const Instance* in) { return !in || waiters_.stopped_and_quiet(*in); },
                    [this, plan = std::move(plan)] { stop_next_wave(plan); });
}

}  // namespace pmx::daemon
