// MonitKeys: selection, filter editing and the actions keys ask for.
#include "cli/monit_keys.hpp"

#include <algorithm>

namespace pmx::cli::monit {

using json = nlohmann::json;

namespace {

/// The request of verb on row, as the CLI verbs send it (restart, reload, stop; start of a
/// known app is a restart, as `pmx start <id>`; scale by app name, +1 / -1).
Action action_for(Verb verb, const AppRow& row) {
  const std::string who = row.name + " (id " + std::to_string(row.id) + ")";
  const json targets = json::array({row.id});
  switch (verb) {
    case Verb::Restart: return {verb, "restart", {{"targets", targets}}, "restart " + who};
    case Verb::Reload: return {verb, "reload", {{"targets", targets}}, "reload " + who};
    case Verb::Stop: return {verb, "stop", {{"targets", targets}}, "stop " + who};
    case Verb::Start: return {verb, "restart", {{"targets", targets}}, "start " + who};
    case Verb::ScaleUp: return {verb, "scale", {{"name", row.name}, {"count", "+1"}}, "scale " + row.name + " +1"};
    case Verb::ScaleDown: return {verb, "scale", {{"name", row.name}, {"count", "-1"}}, "scale " + row.name + " -1"};
  }
  return {verb, "", json::object(), ""};
}

bool stopped(const AppRow& row) { return row.status == "stopped" || row.status == "errored"; }

}  // namespace

std::vector<AppRow> visible_rows(const std::vector<AppRow>& rows, const MonitState& state) {
  std::vector<AppRow> out;
  for (const AppRow& row : rows) {
    if (matches(row, state.filter)) out.push_back(row);
  }
  return out;
}

void fix_selection(MonitState& state, const std::vector<AppRow>& visible) {
  if (visible.empty()) {
    state.selected_id = -1;
    return;
  }
  for (const AppRow& row : visible) {
    if (row.id == state.selected_id) return;
  }
  // The selected app went away (deleted, filtered out): the next one in id order, or the last.
  for (const AppRow& row : visible) {
    if (row.id > state.selected_id) {
      state.selected_id = row.id;
      return;
    }
  }
  state.selected_id = visible.back().id;
}

std::optional<Action> handle_key(MonitState& state, int key, const std::vector<AppRow>& visible, int page) {
  if (state.editing_filter) {
    if (key == kKeyEnter || key == '\n' || key == '\r') {
      state.editing_filter = false;
    } else if (key == kKeyEscape) {
      state.editing_filter = false;
      state.filter.clear();
    } else if (key == kKeyBackspace || key == 127 || key == 8) {
      if (!state.filter.empty()) state.filter.pop_back();
    } else if (key >= 0x20 && key < 0x7f) {
      if (state.filter.size() < 64) state.filter += static_cast<char>(key);
    }
    return std::nullopt;
  }
  if (state.help) {
    // Any key closes the help; q still quits.
    state.help = false;
    if (key == 'q' || key == 3) state.quit = true;
    return std::nullopt;
  }
  auto at = std::find_if(visible.begin(), visible.end(), [&](const AppRow& r) { return r.id == state.selected_id; });
  const int index = at == visible.end() ? -1 : static_cast<int>(at - visible.begin());
  auto select = [&](int i) {
    if (visible.empty()) return;
    i = std::clamp(i, 0, static_cast<int>(visible.size()) - 1);
    state.selected_id = visible[static_cast<std::size_t>(i)].id;
  };
  switch (key) {
    case 'q':
    case 3:  // Ctrl-C, in raw mode
      state.quit = true;
      return std::nullopt;
    case kKeyUp:
    case 'k': select(index < 0 ? 0 : index - 1); return std::nullopt;
    case kKeyDown:
    case 'j': select(index + 1); return std::nullopt;
    case kKeyPageUp: select(index - std::max(1, page)); return std::nullopt;
    case kKeyPageDown: select(index + std::max(1, page)); return std::nullopt;
    case kKeyHome:
    case 'g': select(0); return std::nullopt;
    case kKeyEnd:
    case 'G': select(static_cast<int>(visible.size()) - 1); return std::nullopt;
    case '/':
      state.editing_filter = true;
      return std::nullopt;
    case kKeyEscape:
      state.filter.clear();
      return std::nullopt;
    case '?':
    case 'h':
      state.help = true;
      return std::nullopt;
    default: break;
  }
  if (index < 0) return std::nullopt;
  const AppRow& row = *at;
  switch (key) {
    case 'r': return action_for(Verb::Restart, row);
    case 'R': return action_for(Verb::Reload, row);
    case 's': return action_for(stopped(row) ? Verb::Start : Verb::Stop, row);
    case '+': return action_for(Verb::ScaleUp, row);
    case '-': return action_for(Verb::ScaleDown, row);
    default: return std::nullopt;
  }
}

}  // namespace pmx::cli::monit
