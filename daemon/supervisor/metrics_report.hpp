// The `metrics` request: each instance's usage, what it reports about itself (axm_monitor) and
// its recent history, in one cheap answer that a dashboard (`pmx monit`) polls every second,
// asking only for the points it does not have yet (`since`). Reads only what the sampler and
// the instances' channels already keep: answering reads no file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/control/control_server.hpp"
#include "daemon/supervisor/registry.hpp"
#include "ipc/protocol.hpp"

namespace pmx::daemon {

/// The answer for the instances ids (docs/protocol.md, `metrics`): history points newer than
/// since_s (epoch seconds), none when with_history is false. now_ms: the wall clock.
ipc::json metrics_report(const Registry& registry, const std::vector<int>& ids, std::uint32_t since_s,
                         bool with_history, std::int64_t now_ms);

/// Answers a `metrics` request: params targets (optional: every instance), since (epoch
/// seconds, optional), history (bool, default true); or, with format "prometheus",
/// {"text": exposition()} (`pmx metrics`).
void answer_metrics(const Registry& registry, const ipc::json& params, const Reply& reply,
                    const std::function<std::string()>& exposition);

}  // namespace pmx::daemon
