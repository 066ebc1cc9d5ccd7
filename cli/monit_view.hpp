// MonitView: `pmx monit`'s screen laid out into a character grid of W×H cells (the process
// list with sparklines, the selected app's logs and metrics, a footer), with the columns
// shrinking to fit. Pure: the terminal layer copies the grid to the screen, and unit tests read
// it as text.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/monit_keys.hpp"
#include "cli/monit_model.hpp"

namespace pmx::cli::monit {

/// A cell's colour; None under NO_COLOR.
enum class Color : std::uint8_t { None, Red, Green, Yellow, Cyan, Grey };

struct Cell {
  std::string glyph = " ";  ///< one code point, UTF-8
  Color color = Color::None;
  bool bold = false;
  bool inverse = false;
};

/// width × height cells; writes past an edge are clipped, so no line is ever wider.
class Grid {
 public:
  Grid(int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }
  const Cell& at(int x, int y) const { return cells_[static_cast<std::size_t>(y * width_ + x)]; }
  /// Writes text (UTF-8; control characters must already be escaped) from (x, y), at most
  /// max_cells cells (-1: to the edge); returns the cells written.
  int put(int x, int y, std::string_view text, Color color = Color::None, bool bold = false, bool inverse = false,
          int max_cells = -1);
  /// Sets the attributes of the cells [x, x+n) of row y (a highlighted row).
  void paint(int x, int y, int n, bool inverse, bool bold);
  /// Row y as text, trailing spaces kept.
  std::string row_text(int y) const;

 private:
  int width_;
  int height_;
  std::vector<Cell> cells_;
};

/// values as a sparkline of width cells: the newest at the right, blanks at the left while
/// there are fewer samples, each scaled to ceiling (or the window's largest value when above)
/// in eight steps (▁▂▃▄▅▆▇█; ASCII ".,:;=+*#" without unicode).
std::string sparkline(const std::vector<double>& values, int width, double ceiling, bool unicode);

/// One column of the process list.
struct Column {
  std::string title;
  int width = 0;
};

/// The columns of the process list for a terminal width: id, name, mode, status, restarts,
/// uptime, cpu, cpu sparkline, mem, mem sparkline. Over width, the sparklines and then the name
/// shrink to their minimum, then the sparklines, uptime and mode go, in that order; the sum of
/// widths plus one space between columns never exceeds width (the name takes what is left).
std::vector<Column> list_columns(int width, std::size_t longest_name);

/// What a frame shows.
struct Frame {
  const std::vector<AppRow>& rows;  ///< the visible rows (filtered), in id order
  const MonitState& state;
  std::function<std::vector<Sample>(int)> history;  ///< an instance's samples, oldest first
  const LogTail& logs;
  std::size_t total_apps = 0;    ///< before the filter
  std::string daemon_down;       ///< non-empty: pmxd does not answer (why)
  std::chrono::milliseconds interval{1000};
  bool color = true;
  bool unicode = true;
};

/// Lays frame out on a width × height grid.
Grid render(const Frame& frame, int width, int height);

/// How many rows the process list shows on a terminal of height (for PageUp/PageDown).
int list_rows(int height, std::size_t apps);

}  // namespace pmx::cli::monit
