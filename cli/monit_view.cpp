// MonitView: the layout of monit's screen on a grid of cells.
#include "cli/monit_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "config/units.hpp"
#include "ipc/client.hpp"

namespace pmx::cli::monit {

namespace {

/// The byte length of the UTF-8 sequence that starts with c (1 for a stray byte).
std::size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) return 2;
  if ((c & 0xf0) == 0xe0) return 3;
  if ((c & 0xf8) == 0xf0) return 4;
  return 1;
}

/// The code points of text, each as its UTF-8 bytes; broken sequences and controls as "?".
std::vector<std::string> glyphs_of(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = sequence_length(c);
    bool valid = i + n <= text.size() && (n > 1 || c < 0x80);
    for (std::size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (!valid) n = 1;
    if (!valid || c < 0x20 || c == 0x7f) out.emplace_back("?");
    else out.emplace_back(text.substr(i, n));
    i += n;
  }
  return out;
}

std::size_t cells_of(std::string_view text) { return glyphs_of(text).size(); }

/// text cut or padded to exactly n cells; a cut ends in "…" (or "~" without unicode).
std::string fit(std::string_view text, int n, bool unicode, bool right = false) {
  if (n <= 0) return "";
  auto glyphs = glyphs_of(text);
  std::string out;
  if (static_cast<int>(glyphs.size()) > n) {
    for (int i = 0; i < n - 1; ++i) out += glyphs[static_cast<std::size_t>(i)];
    out += unicode ? "…" : "~";
    return out;
  }
  const std::string pad(static_cast<std::size_t>(n) - glyphs.size(), ' ');
  for (const auto& g : glyphs) out += g;
  return right ? pad + out : out + pad;
}

std::string percent(double cpu) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", cpu);
  return buf;
}

Color status_color(const std::string& status) {
  if (status == "online") return Color::Green;
  if (status == "errored") return Color::Red;
  if (status == "stopped") return Color::Grey;
  return Color::Yellow;
}

constexpr const char* kFooterKeys = "↑↓ move  r restart  R reload  s stop/start  +/- scale  / filter  ? help  q quit";
constexpr const char* kFooterKeysAscii = "j/k move  r restart  R reload  s stop/start  +/- scale  / filter  ? help  q quit";

constexpr const char* kHelp[] = {
    "keys",
    "  up/down, j/k     select an app (PgUp/PgDn, g/G: by page, first, last)",
    "  r                restart the app (as pmx restart <id>)",
    "  R                reload it (as pmx reload <id>)",
    "  s                stop it, or start it when stopped",
    "  + / -            scale its app by one instance (as pmx scale <name> +1 / -1)",
    "  /                filter by name or namespace (Enter keeps it, Esc clears it)",
    "  ?                this help (any key closes it)",
    "  q, Ctrl-C        quit",
};

}  // namespace

Grid::Grid(int width, int height)
    : width_(std::max(0, width)), height_(std::max(0, height)),
      cells_(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_)) {}

int Grid::put(int x, int y, std::string_view text, Color color, bool bold, bool inverse, int max_cells) {
  if (y < 0 || y >= height_ || x >= width_) return 0;
  int written = 0;
  for (auto& g : glyphs_of(text)) {
    if (x >= width_ || (max_cells >= 0 && written >= max_cells)) break;
    if (x >= 0) {
      Cell& c = cells_[static_cast<std::size_t>(y * width_ + x)];
      c.glyph = std::move(g);
      c.color = color;
      c.bold = bold;
      c.inverse = inverse;
    }
    ++x;
    ++written;
  }
  return written;
}

void Grid::paint(int x, int y, int n, bool inverse, bool bold) {
  if (y < 0 || y >= height_) return;
  for (int i = std::max(0, x); i < std::min(width_, x + n); ++i) {
    Cell& c = cells_[static_cast<std::size_t>(y * width_ + i)];
    c.inverse = inverse;
    c.bold = c.bold || bold;
  }
}

std::string Grid::row_text(int y) const {
  std::string out;
  if (y < 0 || y >= height_) return out;
  for (int x = 0; x < width_; ++x) out += at(x, y).glyph;
  return out;
}

std::string sparkline(const std::vector<double>& values, int width, double ceiling, bool unicode) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static const char kAscii[] = ".,:;=+*#";
  if (width <= 0) return "";
  const std::size_t n = std::min(values.size(), static_cast<std::size_t>(width));
  const auto first = values.end() - static_cast<std::ptrdiff_t>(n);
  double top = ceiling;
  for (auto it = first; it != values.end(); ++it) top = std::max(top, *it);
  std::string out(static_cast<std::size_t>(width) - n, ' ');
  for (auto it = first; it != values.end(); ++it) {
    double v = std::isfinite(*it) ? std::max(0.0, *it) : 0.0;
    int level = top > 0 ? static_cast<int>(std::lround(v / top * 7.0)) : 0;
    level = std::clamp(level, 0, 7);
    if (unicode) out += kBlocks[level];
    else out += kAscii[level];
  }
  return out;
}

std::vector<Column> list_columns(int width, std::size_t longest_name) {
  struct Spec {
    const char* title;
    int preferred;
    int min;
    int drop;  // 0: never dropped; else the order in which columns go (1 first)
  };
  const int name_pref = static_cast<int>(std::clamp<std::size_t>(longest_name, 4, 24));
  std::vector<Spec> specs = {
      {"id", 3, 3, 0},     {"name", name_pref, 4, 0}, {"mode", 7, 7, 4},     {"status", 8, 7, 0},
      {"↺", 3, 3, 0},      {"uptime", 6, 6, 3},       {"cpu", 4, 4, 0},      {"", 12, 5, 1},
      {"mem", 7, 7, 0},    {"", 12, 5, 2},
  };
  std::vector<bool> shown(specs.size(), true);
  std::vector<int> w(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) w[i] = specs[i].preferred;
  auto total = [&] {
    int t = 0, count = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (shown[i]) t += w[i], ++count;
    }
    return t + std::max(0, count - 1);
  };
  // First the sparklines shrink, then the name; then columns go in their drop order.
  for (std::size_t i : {std::size_t{7}, std::size_t{9}, std::size_t{1}}) {
    while (total() > width && w[i] > specs[i].min) --w[i];
  }
  for (int order = 1; order <= 4 && total() > width; ++order) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].drop == order) shown[i] = false;
    }
  }
  // Still too wide (a very narrow terminal): the name takes what is left, down to nothing,
  // and the grid clips the rest.
  if (total() > width) w[1] = std::max(0, w[1] - (total() - width));
  // Room left after columns went goes back to the name, then to the sparklines (more history).
  if (const int spare = width - total(); spare > 0) w[1] = std::min(specs[1].preferred, w[1] + spare);
  for (std::size_t i : {std::size_t{7}, std::size_t{9}}) {
    if (!shown[i]) continue;
    const int spare = width - total();
    if (spare > 0) w[i] += std::min(spare / 2 + spare % 2, std::max(0, 60 - w[i]));
  }
  std::vector<Column> out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (shown[i]) out.push_back({specs[i].title, w[i]});
  }
  return out;
}

int list_rows(int height, std::size_t apps) {
  const int body = height - 3;  // title, list header, footer
  if (body <= 0) return 0;
  const int most = body >= 10 ? body / 2 : body;
  return std::clamp(static_cast<int>(std::max<std::size_t>(apps, 1)), 1, most);
}

Grid render(const Frame& f, int width, int height) {
  Grid g(width, height);
  if (width <= 0 || height <= 0) return g;
  auto color = [&](Color c) { return f.color ? c : Color::None; };

  // Title bar.
  std::string title = " pmx monit  " + std::to_string(f.total_apps) + (f.total_apps == 1 ? " instance" : " instances");
  if (f.rows.size() != f.total_apps) title += " (" + std::to_string(f.rows.size()) + " shown)";
  title += "  every " + ipc::describe_duration(f.interval);
  g.put(0, 0, fit(title, width, f.unicode), Color::None, true, true);
  if (f.state.editing_filter || !f.state.filter.empty()) {
    const std::string filter = " filter: " + f.state.filter + (f.state.editing_filter ? "_ " : " ");
    const int n = static_cast<int>(cells_of(filter));
    if (n < width) g.put(width - n, 0, filter, Color::None, true, true);
  }
  if (height < 2) return g;

  // Footer: the last action's word, else the keys.
  const int footer = height - 1;
  if (!f.state.message.empty()) {
    g.put(0, footer, fit(f.state.message, width, f.unicode), color(f.state.message_is_error ? Color::Red : Color::Green),
          f.state.message_is_error);
  } else if (f.state.editing_filter) {
    g.put(0, footer, fit("type a name (or namespace) to filter; Enter keeps it, Esc clears it", width, f.unicode));
  } else {
    g.put(0, footer, fit(f.unicode ? kFooterKeys : kFooterKeysAscii, width, f.unicode), color(Color::Grey));
  }
  if (height < 3) return g;

  // The process list.
  if (!f.daemon_down.empty()) {
    g.put(0, 1, fit("pmxd is not running (" + f.daemon_down + "); trying again every " +
                        ipc::describe_duration(f.interval),
                    width, f.unicode),
          color(Color::Red), true);
    return g;
  }
  std::size_t longest = 0;
  for (const AppRow& r : f.rows) longest = std::max(longest, cells_of(r.name));
  const auto columns = list_columns(width, longest);
  int x = 0;
  for (const Column& c : columns) {
    const bool number = c.title == "id" || c.title == "↺" || c.title == "cpu" || c.title == "mem";
    g.put(x, 1, fit(c.title, c.width, f.unicode, number), Color::None, true);
    x += c.width + 1;
  }
  const int shown = list_rows(height, f.rows.size());
  int selected = -1;
  for (std::size_t i = 0; i < f.rows.size(); ++i) {
    if (f.rows[i].id == f.state.selected_id) selected = static_cast<int>(i);
  }
  // Scroll so that the selected row is on screen.
  const int first = std::max(0, std::min(selected - shown + 1, static_cast<int>(f.rows.size()) - shown));
  if (f.rows.empty()) {
    g.put(0, 2, fit(f.total_apps == 0 ? "no app: start one with pmx start <script>" : "no app matches the filter", width,
                    f.unicode),
          color(Color::Grey));
  }
  for (int line = 0; line < shown && first + line < static_cast<int>(f.rows.size()); ++line) {
    const AppRow& r = f.rows[static_cast<std::size_t>(first + line)];
    const int y = 2 + line;
    const auto samples = f.history ? f.history(r.id) : std::vector<Sample>{};
    std::vector<double> cpu, mem;
    for (const Sample& s : samples) cpu.push_back(s.cpu), mem.push_back(static_cast<double>(s.memory));
    const bool online = r.status == "online";
    x = 0;
    for (const Column& c : columns) {
      std::string text;
      Color col = Color::None;
      bool right = false;
      if (c.title == "id") text = std::to_string(r.id), right = true;
      else if (c.title == "name") text = r.name;
      else if (c.title == "mode") text = r.mode;
      else if (c.title == "status") text = r.status, col = status_color(r.status);
      else if (c.title == "↺") text = std::to_string(r.restarts), right = true;
      else if (c.title == "uptime") text = online ? config::format_uptime(static_cast<std::uint64_t>(r.uptime_ms)) : "0";
      else if (c.title == "cpu") text = percent(r.cpu), right = true;
      else if (c.title == "mem") text = config::format_bytes(r.memory), right = true;
      else {
        // The sparklines: cpu's first, mem's second (when both are shown).
        const bool is_cpu = &c != &columns.front() && (&c)[-1].title == "cpu";  // cpu's stands after cpu
        text = is_cpu ? sparkline(cpu, c.width, 100.0, f.unicode) : sparkline(mem, c.width, 64.0 * 1024 * 1024, f.unicode);
        col = is_cpu ? Color::Cyan : Color::Yellow;
      }
      g.put(x, y, fit(text, c.width, f.unicode, right), color(col));
      x += c.width + 1;
    }
    if (first + line == selected) g.paint(0, y, width, true, true);
  }

  // Below the list: the selected app's logs (left) and its details and metrics (right), or help.
  const int top = 2 + shown;
  if (top >= footer) return g;
  if (f.state.help) {
    int y = top;
    for (const char* line : kHelp) {
      if (y >= footer) break;
      g.put(0, y++, fit(line, width, f.unicode), Color::None, line == kHelp[0]);
    }
    return g;
  }
  const AppRow* sel = selected >= 0 ? &f.rows[static_cast<std::size_t>(selected)] : nullptr;
  const int details_w = width >= 70 ? 30 : 0;
  const int logs_w = width - (details_w > 0 ? details_w + 1 : 0);
  const std::string rule = f.unicode ? "─" : "-";
  std::string heading = sel ? " logs: " + sel->name + " (id " + std::to_string(sel->id) + ") " : " logs ";
  std::string line_text = rule + rule + heading;
  while (static_cast<int>(cells_of(line_text)) < logs_w) line_text += rule;
  g.put(0, top, fit(line_text, logs_w, f.unicode), color(Color::Grey));
  const int log_h = footer - top - 1;
  if (log_h > 0 && sel) {
    const auto& lines = f.logs.lines();
    const std::size_t n = std::min(lines.size(), static_cast<std::size_t>(log_h));
    int y = top + 1;
    for (std::size_t i = lines.size() - n; i < lines.size(); ++i) {
      g.put(0, y++, fit(lines[i].text, logs_w, f.unicode), color(lines[i].err ? Color::Red : Color::None));
    }
  }
  if (details_w > 0) {
    const int dx = logs_w + 1;
    std::string head = rule + rule + " details ";
    while (static_cast<int>(cells_of(head)) < details_w) head += rule;
    g.put(dx, top, fit(head, details_w, f.unicode), color(Color::Grey));
    if (sel) {
      std::vector<std::pair<std::string, std::string>> rows = {
          {"pid", sel->pid > 0 ? std::to_string(sel->pid) : "-"},
          {"status", sel->status + (sel->reason.empty() || sel->status == "online" ? "" : " (" + sel->reason + ")")},
          {"memory", config::format_bytes(sel->memory) + " (tree)"},
          {"cpu", percent(sel->cpu)},
          {"restarts", std::to_string(sel->restarts)},
          {"namespace", sel->ns},
          {"last exit", sel->last_exit.empty() ? "-" : sel->last_exit},
      };
      if (!sel->cgroup.empty()) rows.push_back({"cgroup", sel->cgroup.substr(sel->cgroup.rfind('/') + 1)});
      int y = top + 1;
      for (const auto& [key, value] : rows) {
        if (y >= footer) break;
        g.put(dx, y, fit(key, 10, f.unicode), color(Color::Grey));
        g.put(dx + 10, y++, fit(value, details_w - 10, f.unicode));
      }
      if (!sel->metrics.empty() && y < footer) {
        g.put(dx, y++, fit("metrics", details_w, f.unicode), Color::None, true);
        for (const Metric& m : sel->metrics) {
          if (y >= footer) break;
          const int value_w = std::min<int>(static_cast<int>(cells_of(m.value)), details_w / 2);
          g.put(dx, y, fit(m.name, details_w - value_w - 1, f.unicode), color(Color::Grey));
          g.put(dx + details_w - value_w, y++, fit(m.value, value_w, f.unicode, true));
        }
      }
    }
  }
  return g;
}

}  // namespace pmx::cli::monit
