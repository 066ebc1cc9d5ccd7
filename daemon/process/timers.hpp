// Timers: pmxd's clocks and its deadlines, behind one interface. The daemon's is Asio's
// steady_timer on the loop (AsioTimers); the unit tests' moves only when the test moves it
// (tests/unit/daemon/process/fake_timers.hpp), so a supervisor test never waits on the wall
// clock. A Deadline is one callback armed on it: re-armed, cancelled or destroyed, its callback
// never runs, even when its time had already come and Asio had queued its handler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

#include "daemon/process/exit_status.hpp"

namespace pmx::daemon {

using WallTime = std::chrono::system_clock::time_point;

/// A wall-clock time in milliseconds since the epoch: the times pmxd records and shows
/// (created_at, started_at, a probe's last time), which outlive it and mean the same to its successor.
inline std::int64_t epoch_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
/// The wall clock now, as epoch_ms.
inline std::int64_t wall_clock_ms() { return epoch_ms(std::chrono::system_clock::now()); }

class Timers {
 public:
  using Callback = std::function<void()>;
  /// Names one armed callback; never 0, never reused.
  using Key = std::uint64_t;

  virtual ~Timers() = default;

  /// The steady time now: the state machine's clock (uptimes, backoff) and the deadlines'.
  virtual TimePoint now() const = 0;
  /// The wall clock now: the time cron_restart's schedule is read in.
  virtual WallTime wall_now() const = 0;

  /// Runs cb from the loop once now() has reached at (at once, from the loop, for a time
  /// already past); never from inside arm.
  virtual Key arm(TimePoint at, Callback cb) = 0;
  /// cb of key never runs after this, whether or not its time has come. A key that ran or was
  /// cancelled already is ignored.
  virtual void cancel(Key key) = 0;
  /// Whether key's callback is still to run.
  virtual bool pending(Key key) const = 0;
};

/// At most one callback armed on a Timers at a time: arming again replaces it, and it is
/// cancelled when the Deadline is cancelled, moved onto or destroyed. The Timers must outlive it.
class Deadline {
 public:
  Deadline() = default;
  ~Deadline() { cancel(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  Deadline(Deadline&& other) noexcept
      : timers_(std::exchange(other.timers_, nullptr)), key_(std::exchange(other.key_, 0)), at_(other.at_) {}
  Deadline& operator=(Deadline&& other) noexcept {
    if (this != &other) {
      cancel();
      timers_ = std::exchange(other.timers_, nullptr);
      key_ = std::exchange(other.key_, 0);
      at_ = other.at_;
    }
    return *this;
  }

  /// Runs cb at at (replacing what was armed).
  void arm_at(Timers& timers, TimePoint at, Timers::Callback cb) {
    cancel();
    timers_ = &timers;
    at_ = at;
    key_ = timers.arm(at, std::move(cb));
  }
  /// Runs cb after the delay, counted from timers.now().
  void arm_after(Timers& timers, Millis after, Timers::Callback cb) { arm_at(timers, timers.now() + after, std::move(cb)); }
  void cancel() {
    if (timers_ && key_ != 0) timers_->cancel(key_);
    key_ = 0;
  }
  /// Whether a callback is armed and has not run yet.
  bool armed() const { return timers_ && key_ != 0 && timers_->pending(key_); }
  /// When the armed callback runs (meaningful while armed()).
  TimePoint at() const { return at_; }

 private:
  Timers* timers_ = nullptr;
  Timers::Key key_ = 0;
  TimePoint at_{};
};

}  // namespace pmx::daemon
