// SpawnQueue: how many spawns may be in flight at once (forked, exec not yet reported), and the
// FIFO of the instances that wait for a slot. A crash loop of hundreds of apps beside CPU hogs
// forks faster than its children reach their exec; each of those holds an exec-report pipe
// open in pmxd. With the bound, what pmxd holds is at most limit() pipes, and the apps take
// turns in the order their spawns were asked for.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <set>

namespace pmx::daemon {

class SpawnQueue {
 public:
  /// The default bound: 2 per core, at least 8 and at most 32.
  static std::size_t default_limit();

  /// limit is taken as at least 1.
  explicit SpawnQueue(std::size_t limit);

  /// Whether key may spawn now: true when a slot is free and nobody waits before it, or when
  /// key's turn has come (its retry is running). Else key waits at the back of the queue (once:
  /// a key already waiting keeps its place and gets the new retry) and false; retry runs when
  /// its turn comes, from a later forked()/reported() or cancel(). The caller forks right after
  /// a true, and tells forked(pid) (or nothing, when no process was made).
  bool admit(int key, std::function<void()> retry);
  /// pid was forked: its slot is taken until reported(pid).
  void forked(pid_t pid);
  /// pid's exec was reported (or failed, or pid was reaped before): its slot is free, and the
  /// waiting keys get their turn while slots are free. A pid not in flight is ignored.
  void reported(pid_t pid);
  /// Takes key out of the queue (a stop or delete before its turn came): true when it waited.
  bool cancel(int key);

  bool waiting(int key) const;
  std::size_t waiting_count() const { return queue_.size(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  std::size_t limit() const { return limit_; }
  /// The most spawns ever in flight at once (what the bound held pmxd to).
  std::size_t peak_in_flight() const { return peak_; }

 private:
  /// Gives waiting keys their turn while slots are free (not re-entered from a retry).
  void pump();

  struct Waiter {
    int key;
    std::function<void()> retry;
  };
  std::size_t limit_;
  std::set<pid_t> in_flight_;
  std::deque<Waiter> queue_;
  std::optional<int> turn_;  ///< the key whose retry runs now: admit() lets it through
  bool pumping_ = false;
  std::size_t peak_ = 0;
};

}  // namespace pmx::daemon
