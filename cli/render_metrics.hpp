// The metrics an app reports about itself (pm2_env.axm_monitor), as `pmx describe` shows them
// below the app's rows: PM2's "Code metrics" section.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/render.hpp"

namespace pmx::cli {

/// "Code metrics" and one "name  value unit" row per metric of pm2_env.axm_monitor, in the
/// order jlist gives them; empty when the app reports none.
std::string render_code_metrics(const nlohmann::json& pm2_env, const Style& style);

}  // namespace pmx::cli
