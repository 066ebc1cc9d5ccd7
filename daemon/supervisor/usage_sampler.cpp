// UsageSampler: one reading of every due instance per tick, memory limits checked, a point of
// the instance's history added (MetricsHistory keeps one per step).
#include "daemon/supervisor/usage_sampler.hpp"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <utility>
#include <spdlog/spdlog.h>

#include "config/units.hpp"

namespace pmx::daemon {

UsageSampler::UsageSampler(Timers& timers, Millis interval, ProcessOps& processes, Registry& registry,
                           const ControlServer& server, OverLimit over_limit)
    : timers_(timers),
      interval_(interval),
      processes_(processes),
      registry_(registry),
      server_(server),
      over_limit_(std::move(over_limit)) {}

void UsageSampler::start() { schedule(); }

void UsageSampler::schedule() {
  tick_deadline_.arm_after(timers_, interval_, [this] {
    const std::vector<int> over = sample();
    spdlog::default_logger()->flush();  // the daemon's log is flushed once a tick, not per line
    if (server_.requests() != requests_at_trim_) {
      // Answers (a jlist of a hundred apps) leave freed heap behind: hand it back to the system.
      requests_at_trim_ = server_.requests();
      ::malloc_trim(0);
    }
    if (!over.empty()) over_limit_(over);
    schedule();
  });
}

std::vector<int> UsageSampler::sample() {
  static const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto now = Clock::now();
  const auto now_s = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<int> over;
  ScanScope scan(processes_);  // one /proc scan serves every instance (fallback)
  ++tick_;
  for (auto& [id, in] : registry_.by_id()) {
    if (in->run.pid <= 0) {
      in->usage = ResourceSample{};
      continue;
    }
    // A memory limit is checked every tick; other instances are read every kSpread ticks, a
    // share of them each tick, which keeps a hundred idle apps nearly free.
    const bool due = in->spec.max_memory_restart != 0 || in->usage.at == TimePoint{} ||
                     static_cast<std::uint64_t>(id) % kSpread == tick_ % kSpread;
    if (!due) continue;
    in->usage.update(processes_.usage(in->membership()), now, hz);
    if (const Limits limits = limits_of(in->spec); limits.any()) in->limit_usage = processes_.limit_usage(in->run.cgroup, limits);
    const std::uint64_t rss = in->usage.rss_bytes;
    const auto& runtime = in->metrics.runtime;
    in->history.add(now_s, in->usage.cpu_percent, rss, runtime ? runtime->loop_p99_ms : std::nullopt);
    if (in->spec.max_memory_restart != 0 && in->fsm.state() == State::Online && rss > in->spec.max_memory_restart) {
      spdlog::warn("{} memory {} ({} bytes) over max_memory_restart {} ({} bytes), restarting", label(*in),
                   config::format_bytes(rss), rss, config::format_bytes(in->spec.max_memory_restart),
                   in->spec.max_memory_restart);
      over.push_back(id);
    }
  }
  return over;
}

}  // namespace pmx::daemon
