// The dump: the app list `pmx save` writes to $PMX_HOME/dump.pmx and `pmx resurrect` restores,
// and the import of the dump.pm2 that `pm2 save` writes.
#pragma once

#include <string>
#include <vector>

#include "config/app_spec.hpp"
#include "config/result.hpp"

namespace pmx::config {

/// The highest pm_id a dump or a state file may give an instance: ids come back from files and
/// requests, and the next id is one more, which must not overflow an int.
constexpr int kMaxPmId = 1'000'000'000;

/// One instance as saved: enough to start it again as it was.
struct SavedInstance {
  int pm_id = -1;  ///< the id it had; -1: any
  AppSpec spec;
  Env env;         ///< the caller's environment it was started with (not the app's own env)
  bool stopped = false;  ///< stopped by hand: restored stopped
};

/// The dump as JSON text: {"pmx_dump": 1, "saved_at": ..., "apps": [...]}, one entry per instance.
std::string encode_dump(const std::vector<SavedInstance>& instances, const std::string& saved_at);

/// Reads text written by encode_dump; a truncated or corrupt text fails with what is wrong.
Result<std::vector<SavedInstance>> decode_dump(const std::string& text);

/// Reads the JSON array `pm2 save` writes (~/.pm2/dump.pm2): each process's options, its
/// status and its environment. PM2's own variables are left out of the environment.
Result<std::vector<SavedInstance>> from_pm2_dump(const std::string& text);

}  // namespace pmx::config
