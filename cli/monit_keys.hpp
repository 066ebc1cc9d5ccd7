// MonitKeys: what a key does in `pmx monit`: moves the selection, edits the filter, or asks for
// an action on the selected app (restart, reload, stop/start, scale) that the caller sends
// through the same requests as the CLI's verbs. Pure: keys come in as numbers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/monit_model.hpp"

namespace pmx::cli::monit {

/// Keys that are not characters (the terminal layer maps its own codes to these).
enum Key : int {
  kKeyUp = 0x110000,  // above every Unicode code point
  kKeyDown,
  kKeyPageUp,
  kKeyPageDown,
  kKeyHome,
  kKeyEnd,
  kKeyBackspace,
  kKeyEnter,
  kKeyEscape,
  kKeyResize,
};

/// What the selected app should have done to it.
enum class Verb { Restart, Reload, Stop, Start, ScaleUp, ScaleDown };

/// A request to send: method and params exactly as the CLI verb sends them, and what the
/// footer says meanwhile.
struct Action {
  Verb verb;
  std::string method;
  nlohmann::json params;
  std::string describe;  ///< "restart api (id 0)"
};

/// Everything the user has chosen: selection, filter, help, the footer's message.
struct MonitState {
  int selected_id = -1;      ///< the id of the selected instance; -1 before there is one
  std::string filter;        ///< names (or namespaces) that contain it, case-insensitively
  bool editing_filter = false;
  bool help = false;
  bool quit = false;
  std::string message;       ///< the footer's last word (an action's result or error)
  bool message_is_error = false;
};

/// The rows that the filter lets through, in id order.
std::vector<AppRow> visible_rows(const std::vector<AppRow>& rows, const MonitState& state);

/// Keeps the selection on a visible row: the same id when it is still there, else the row at
/// the same place (or the last), else none.
void fix_selection(MonitState& state, const std::vector<AppRow>& visible);

/// Applies key to state; returns the action to send, if the key asks for one. page: rows per
/// page for PageUp/PageDown.
std::optional<Action> handle_key(MonitState& state, int key, const std::vector<AppRow>& visible, int page = 10);

}  // namespace pmx::cli::monit
