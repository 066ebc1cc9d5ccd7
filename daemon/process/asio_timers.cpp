// AsioTimers: deadlines on steady_timers, a cancelled one never run.
#include "daemon/process/asio_timers.hpp"

#include <utility>

namespace pmx::daemon {

Timers::Key AsioTimers::arm(TimePoint at, Callback cb) {
  const Key key = next_++;
  auto armed = std::make_unique<Armed>(io_, std::move(cb));
  armed->timer.expires_at(at);
  armed->timer.async_wait([table = std::weak_ptr<Table>(armed_), key](const boost::system::error_code& ec) {
    const auto live = table.lock();
    if (!live) return;
    auto it = live->find(key);
    if (it == live->end()) return;  // cancelled: its handler may still have been queued
    Callback run = std::move(it->second->cb);
    live->erase(it);  // no longer pending while it runs, so it may arm again
    if (!ec) run();
  });
  armed_->emplace(key, std::move(armed));
  return key;
}

void AsioTimers::cancel(Key key) { armed_->erase(key); }

bool AsioTimers::pending(Key key) const { return armed_->count(key) != 0; }

}  // namespace pmx::daemon
