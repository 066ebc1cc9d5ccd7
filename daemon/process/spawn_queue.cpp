// SpawnQueue: the bound on spawns in flight and the FIFO of spawns waiting for a slot.
#include "daemon/process/spawn_queue.hpp"

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace pmx::daemon {

std::size_t SpawnQueue::default_limit() {
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<std::size_t>(std::clamp<long>(2 * cores, 8, 32));
}

SpawnQueue::SpawnQueue(std::size_t limit) : limit_(std::max<std::size_t>(limit, 1)) {}

bool SpawnQueue::admit(int key, std::function<void()> retry) {
  if (turn_ == key) {
    turn_.reset();
    return true;
  }
  if (queue_.empty() && in_flight_.size() < limit_) return true;
  auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
  if (it != queue_.end()) it->retry = std::move(retry);
  else queue_.push_back(Waiter{key, std::move(retry)});
  return false;
}

void SpawnQueue::forked(pid_t pid) {
  in_flight_.insert(pid);
  peak_ = std::max(peak_, in_flight_.size());
}

void SpawnQueue::reported(pid_t pid) {
  if (in_flight_.erase(pid) == 0) return;
  pump();
}

bool SpawnQueue::cancel(int key) {
  auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

bool SpawnQueue::waiting(int key) const {
  return std::any_of(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
}

void SpawnQueue::pump() {
  // A retry forks, and its report may come back before it returns (reported() from inside):
  // the outer loop goes on instead.
  if (pumping_) return;
  pumping_ = true;
  while (in_flight_.size() < limit_ && !queue_.empty()) {
    Waiter next = std::move(queue_.front());
    queue_.pop_front();
    // A retry that does not fork (its instance was stopped or removed meanwhile) takes no slot.
    turn_ = next.key;
    next.retry();
    turn_.reset();
  }
  pumping_ = false;
}

}  // namespace pmx::daemon
