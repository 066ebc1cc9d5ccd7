// Rendering for humans: the process table, describe boxes, colours.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmx::cli {

struct Style {
  bool color = false;  ///< ANSI colours (a tty, no NO_COLOR, no --no-color)
  int width = 0;       ///< terminal columns; 0 when not a terminal (no limit)
  bool boxes = true;   ///< box-drawing table; plain columns when piped
};

/// Style for stdout: colours and boxes on a tty unless NO_COLOR or no_color.
Style detect_style(bool no_color);

/// The `pmx list` table of jlist entries; fewer columns when the terminal is narrow.
std::string render_list(const nlohmann::json& apps, const Style& style);

/// The `pmx describe` view of one jlist entry.
std::string render_describe(const nlohmann::json& app, const Style& style);

}  // namespace pmx::cli
