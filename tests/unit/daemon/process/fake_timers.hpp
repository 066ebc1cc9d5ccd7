// FakeTimers: Timers whose clocks move only when the test moves them. advance() fires each
// deadline that falls due on the way, at its own time and in order, and lets the test run the
// loop after each (the supervisor posts what a deadline starts), so a test of timed policy
// runs at once and never waits on the wall clock.
//
// A callback armed while advance() runs, for a time not after the clock's time then (due at
// once: a deadline re-armed for the instant it fired at, or for one already past), does not run
// in that advance() but in the next one (advance(Millis(0)) runs it). The clock stands still
// while advance() runs its callbacks, so running such a callback at once would run one that
// re-arms itself at once again and again without end; on the daemon's loop it runs "at once" on
// a later turn, when time has moved on, and here on a later advance(). It never runs before its
// time either way.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "daemon/process/timers.hpp"

namespace pmx::daemon::testing {

class FakeTimers final : public Timers {
 public:
  /// The steady clock starts at start, the wall clock at wall (by default now, in whole
  /// milliseconds, so that a test can count to a whole second of it).
  explicit FakeTimers(TimePoint start = Clock::now(),
                      WallTime wall = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()))
      : now_(start), wall_at_start_(wall), start_(start) {}

  TimePoint now() const override { return now_; }
  WallTime wall_now() const override {
    return wall_at_start_ + std::chrono::duration_cast<WallTime::duration>(now_ - start_);
  }
  Key arm(TimePoint at, Callback cb) override {
    const Key key = next_++;
    armed_.emplace(key, Armed{at, std::move(cb), advancing_ && at <= now_});
    return key;
  }
  void cancel(Key key) override { armed_.erase(key); }
  bool pending(Key key) const override { return armed_.count(key) != 0; }

  /// Moves the clocks on by d. Each callback due by then runs at its own time (the clock set
  /// to it; one armed before this call for a time already past runs first, at the time the clock
  /// shows), earliest first, those of one time in the order they were armed; after each, then()
  /// runs (the loop's ready handlers). A callback (or then()) may arm others: they run too when
  /// due by then and later than the clock's time at their arming; one due at once waits for
  /// the next advance() (see the file's comment), so this always ends.
  void advance(Millis d, const std::function<void()>& then = {}) {
    const TimePoint target = now_ + d;
    advancing_ = true;
    for (auto next = earliest(target); next; next = earliest(target)) {
      auto it = armed_.find(*next);
      if (it->second.at > now_) now_ = it->second.at;
      Callback cb = std::move(it->second.cb);
      armed_.erase(it);
      cb();
      if (then) then();
    }
    advancing_ = false;
    for (auto& [key, a] : armed_) a.next_advance = false;  // due in the next one
    now_ = target;
  }
  /// When the earliest armed callback is due, if any is armed.
  std::optional<TimePoint> next_due() const {
    std::optional<TimePoint> at;
    for (const auto& [key, a] : armed_) {
      if (!at || a.at < *at) at = a.at;
    }
    return at;
  }
  std::size_t armed_count() const { return armed_.size(); }

 private:
  struct Armed {
    TimePoint at;
    Callback cb;
    bool next_advance = false;  ///< armed due at once during an advance(): runs in the next one
  };
  /// The key of the earliest callback this advance() runs by target (ties: the first armed).
  std::optional<Key> earliest(TimePoint target) const {
    std::optional<Key> best;
    for (const auto& [key, a] : armed_) {
      if (!a.next_advance && a.at <= target && (!best || a.at < armed_.at(*best).at)) best = key;
    }
    return best;
  }

  TimePoint now_;
  WallTime wall_at_start_;
  TimePoint start_;
  Key next_ = 1;
  bool advancing_ = false;  ///< advance() is running callbacks
  std::map<Key, Armed> armed_;  ///< by key: arming order
};

}  // namespace pmx::daemon::testing
