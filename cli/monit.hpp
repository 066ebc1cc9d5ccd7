// `pmx monit`: the terminal dashboard (PM2's verb): the process list with sparklines, the
// selected app's logs and metrics, and keys for the verbs. This is the thin ncurses layer and
// the loop; what it shows is laid out by monit_view, what keys do by monit_keys, and what it
// reads comes from a MonitSource.
#pragma once

#include <chrono>

#include "config/paths.hpp"

namespace pmx::cli {

struct MonitOptions {
  std::chrono::milliseconds interval{1000};  ///< --interval: how often the list is read
  bool no_color = false;                     ///< --no-color, or NO_COLOR set
};

/// Runs the dashboard until q or Ctrl-C; the exit code (0; 2 when stdin or stdout is not a
/// terminal). Never starts pmxd: while none answers, it says so and keeps trying.
int run_monit(const config::Paths& paths, const MonitOptions& options);

}  // namespace pmx::cli
