// FakeTimers: Timers whose clocks move only when the test moves them. advance() fires each
// deadline that falls due on the way, at its own time and in order, and lets the test run the
// loop after each (the supervisor posts what a deadline starts), so a test of timed policy
// runs at once and never waits on the wall clock.
//
// A callback armed while advance() runs, for a time not after the clock's (due at once: a
// zero delay, a deadline re-armed for the instant it fired at or for one already past), runs in
// that advance(), before anything due later, as the daemon's loop runs it on its next turn. The
// clock stands still while callbacks of one instant run, so callbacks that re-arm each other
// at once without end would never let it move: after kMaxRunsPerInstant of them advance()
// throws, and the test fails instead of hanging.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
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
    armed_.emplace(key, Armed{at, std::move(cb)});
    return key;
  }
  void cancel(Key key) override { armed_.erase(key); }
  bool pending(Key key) const override { return armed_.count(key) != 0; }

  /// Callbacks run at one instant, the clock standing still, before advance() gives up.
  static constexpr std::size_t kMaxRunsPerInstant = 10'000;

  /// Moves the clocks on by d. Each callback due by then runs at its own time (the clock set
  /// to it; one due already runs at the time the clock shows), earliest first, those of one time
  /// in the order they were armed; after each, then() runs (the loop's ready handlers). A
  /// callback (or then()) may arm others: they run too when due by the target, one due at once
  /// before anything later. Throws std::logic_error when callbacks keep arming each other for
  /// the same instant (see the file's comment).
  void advance(Millis d, const std::function<void()>& then = {}) {
    const TimePoint target = now_ + d;
    std::size_t runs_now = 0;  // callbacks run since the clock last moved
    for (auto next = earliest(target); next; next = earliest(target)) {
      auto it = armed_.find(*next);
      if (it->second.at > now_) {
        now_ = it->second.at;
        runs_now = 0;
      }
      if (++runs_now > kMaxRunsPerInstant) {
        throw std::logic_error("FakeTimers: callbacks keep arming each other for the same instant");
      }
      Callback cb = std::move(it->second.cb);
      armed_.erase(it);
      cb();
      if (then) then();
    }
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
  };
  /// The key of the earliest callback this advance() runs by target (ties: the first armed).
  std::optional<Key> earliest(TimePoint target) const {
    std::optional<Key> best;
    for (const auto& [key, a] : armed_) {
      if (a.at <= target && (!best || a.at < armed_.at(*best).at)) best = key;
    }
    return best;
  }

  TimePoint now_;
  WallTime wall_at_start_;
  TimePoint start_;
  Key next_ = 1;
  std::map<Key, Armed> armed_;  ///< by key: arming order
};

}  // namespace pmx::daemon::testing
