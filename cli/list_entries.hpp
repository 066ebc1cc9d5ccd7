// List entries as the CLI's tables read them: a `list` (or `start`, `restart`) result parsed
// without what no table shows, each instance's environment above all.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace pmx::cli {

/// Parses text, an array of jlist entries, keeping of each entry's pm2_env only the fields that
/// render_list and report_errored read (kListFields in list_entries.cpp); everything else of an
/// entry is kept. A hundred entries are about 550 KB, most of it each instance's environment
/// (pm2_env.env and its keys copied at the top of pm2_env, as PM2 has them); parsed whole they
/// took most of `pmx start`'s own time. Text that is not JSON gives a discarded value.
nlohmann::json parse_list_entries(std::string_view text);

}  // namespace pmx::cli
