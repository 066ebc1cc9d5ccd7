// SettleWaiters: replies held until their instances settle, with a deadline for each.
#include "daemon/supervisor/settle_waiters.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "daemon/supervisor/run_cgroups.hpp"

namespace pmx::daemon {

namespace {

/// A reply waiting for instances to settle is sent anyway after this long (a process stuck in
/// the kernel must not hold a client forever); kill_timeout normally ends the wait far sooner.
constexpr Millis kReplyDeadline{120'000};
/// How often waiting replies are re-checked where the process layer cannot watch processes
/// (no pidfd or inotify: a kernel before 5.3, or out of descriptors). Elsewhere the layer's
/// events drive the checks and nothing polls.
constexpr Millis kUnwatchedPoll{100};

}  // namespace

SettleWaiters::SettleWaiters(boost::asio::io_context& io, Timers& timers, ProcessOps& processes,
                             const Registry& registry)
    : io_(io), timers_(timers), processes_(processes), registry_(registry) {}

SettleWaiters::~SettleWaiters() {
  for (int id : watched_) processes_.forget_members(id);
}

bool SettleWaiters::quiet(const Instance& in) const {
  if (in.run.pid > 0 || in.candidate || !in.retiring.empty()) return false;
  if (!in.old_cgroups.empty()) return false;
  return processes_.members(in.membership()).empty();
}

void SettleWaiters::wait_for(std::vector<int> ids, Done done, std::function<void()> complete) {
  waiters_.push_back(Waiter{std::move(ids), std::move(done), std::move(complete), timers_.now()});
  check();
}

void SettleWaiters::check() {
  if (waiters_.empty()) return;
  const auto now = timers_.now();
  std::vector<std::function<void()>> ready;
  std::optional<ScanScope> scan(std::in_place, processes_);  // one /proc scan for the whole pass
  std::set<int> awaited;  // stopped instances whose processes a waiter still waits for
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    bool all = true;
    const Instance* blocking = nullptr;
    for (int id : it->ids) {
      const Instance* in = registry_.find(id);
      if (!it->done(in)) {
        all = false;
        blocking = in;
        break;
      }
    }
    // Processes stuck in the kernel must not hold a reply forever.
    const bool late = now - it->since >= kReplyDeadline;
    if (late) spdlog::warn("gave up waiting for instances to settle after {} ms, answering anyway", kReplyDeadline.count());
    if (all || late) {
      ready.push_back(std::move(it->complete));
      it = waiters_.erase(it);
      continue;
    }
    // Stopped but not quiet: only the end of its processes can change that. Other waits (a
    // state to reach, a leader to end) are woken by the transition or the exit.
    if (blocking && blocking->run.pid <= 0 && is_stopped(blocking->fsm.state())) awaited.insert(blocking->id);
    ++it;
  }
  // Leftover processes often end without a SIGCHLD for us (their own parent reaps them, or
  // they belong to an adopted instance): the process layer reports their end instead. Set
  // within the scan, the watch finds the members from the same snapshot.
  bool polling = false;
  for (int id : awaited) {
    const Instance& in = *registry_.find(id);
    // A stopped instance keeps no process: what is left was meant to die with the SIGKILL that
    // followed its leader's exit, which a scan in the fallback can miss (a child caught between
    // its exit and the reparenting of its own children). Kill it now.
    if (std::size_t left = processes_.kill_rest(in.membership()); left > 0) {
      spdlog::info("{} left {} process(es) behind, killed them", label(in), left);
    }
    polling |= !processes_.watch_members(id, in.membership(), in.old_cgroups, [this, id] { wake(id); });
  }
  for (int id : watched_) {
    if (!awaited.count(id)) processes_.forget_members(id);
  }
  watched_ = std::move(awaited);
  scan.reset();
  if (waiters_.empty()) {
    poll_.cancel();
  } else {
    TimePoint next = now + kReplyDeadline;
    for (const auto& w : waiters_) next = std::min(next, w.since + kReplyDeadline);
    if (polling) next = std::min(next, now + kUnwatchedPoll);
    poll_.arm_at(timers_, next, [this] { check(); });  // replaces the one an earlier pass armed
  }
  for (auto& f : ready) f();
}

void SettleWaiters::wake(int id) {
  // An old cgroup emptied: its last process may have been reaped by someone else than pmxd.
  if (Instance* in = registry_.find(id); in && !in->old_cgroups.empty()) remove_old_cgroups(processes_, *in);
  if (woken_) return;
  woken_ = true;
  boost::asio::post(io_, [this] {
    woken_ = false;
    check();
  });
}

}  // namespace pmx::daemon
