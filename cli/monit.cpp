// `pmx monit`: the ncurses screen and the loop. One thread: poll(2) on the terminal and the
// follower's socket, with a deadline at the next refresh; signals only set flags.
#include "cli/monit.hpp"

#include <curses.h>
#include <langinfo.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/monit_source.hpp"
#include "cli/monit_view.hpp"

namespace pmx::cli {

namespace {

using namespace monit;
using Clock = std::chrono::steady_clock;

/// The soonest monit looks again after a look, when apps change state.
constexpr std::chrono::milliseconds kSoonest{200};

volatile sig_atomic_t g_quit = 0;
volatile sig_atomic_t g_resized = 0;

void on_quit(int) { g_quit = 1; }
void on_winch(int) { g_resized = 1; }

/// Installs handler for sig without SA_RESTART, so that poll(2) returns at once.
void catch_signal(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

/// The colour pairs of monit's colours (pair n for Color n).
void init_colors() {
  start_color();
  use_default_colors();
  init_pair(static_cast<short>(Color::Red), COLOR_RED, -1);
  init_pair(static_cast<short>(Color::Green), COLOR_GREEN, -1);
  init_pair(static_cast<short>(Color::Yellow), COLOR_YELLOW, -1);
  init_pair(static_cast<short>(Color::Cyan), COLOR_CYAN, -1);
  // Grey: bright black where the terminal has 16 colours.
  init_pair(static_cast<short>(Color::Grey), COLORS >= 16 ? 8 : COLOR_WHITE, -1);
}

/// Copies grid to the screen; curses sends only the cells that changed (no flicker).
void draw(const Grid& grid, bool color) {
  erase();
  for (int y = 0; y < grid.height(); ++y) {
    for (int x = 0; x < grid.width(); ++x) {
      const Cell& c = grid.at(x, y);
      attr_t attr = A_NORMAL;
      if (c.bold) attr |= A_BOLD;
      if (c.inverse) attr |= A_REVERSE;
      short pair = color && c.color != Color::None ? static_cast<short>(c.color) : 0;
      attr_set(attr, pair, nullptr);
      // The bottom-right cell scrolls some terminals: curses returns ERR there, which is fine.
      mvaddstr(y, x, c.glyph.c_str());
    }
  }
  attr_set(A_NORMAL, 0, nullptr);
  refresh();
}

/// curses' key code as monit's.
int key_of(int ch) {
  switch (ch) {
    case KEY_UP: return kKeyUp;
    case KEY_DOWN: return kKeyDown;
    case KEY_PPAGE: return kKeyPageUp;
    case KEY_NPAGE: return kKeyPageDown;
    case KEY_HOME: return kKeyHome;
    case KEY_END: return kKeyEnd;
    case KEY_BACKSPACE: return kKeyBackspace;
    case KEY_ENTER: return kKeyEnter;
    case 27: return kKeyEscape;
    case KEY_RESIZE: return kKeyResize;
    default: return ch;
  }
}

}  // namespace

int run_monit(const config::Paths& paths, const MonitOptions& options) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) {
    std::cerr << "pmx: monit needs a terminal (use pmx list or pmx jlist in scripts)\n";
    return kUsage;
  }
  std::setlocale(LC_ALL, "");
  const bool unicode = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
  const char* no_color_env = std::getenv("NO_COLOR");
  const bool want_color = !options.no_color && !(no_color_env && *no_color_env);

  DaemonSource source(paths);
  MonitState state;
  LogTail logs;
  std::vector<AppRow> rows;
  std::string down;
  int followed = -1;

  g_quit = 0;
  g_resized = 0;
  catch_signal(SIGINT, on_quit);
  catch_signal(SIGTERM, on_quit);
  catch_signal(SIGHUP, on_quit);
  ::signal(SIGPIPE, SIG_IGN);

  initscr();
  catch_signal(SIGWINCH, on_winch);  // after initscr: ours, so that poll wakes up on a resize
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  const bool color = want_color && has_colors();
  if (color) init_colors();

  auto look = [&] {
    auto got = source.snapshot();
    // pmxd is back: the follow started again with the last lines, shown afresh.
    if (got && !down.empty()) logs.clear();
    if (got) {
      rows = std::move(*got);
      down.clear();
    } else {
      rows.clear();
      down = got.error();
    }
  };
  auto frame = [&] {
    auto visible = visible_rows(rows, state);
    fix_selection(state, visible);
    if (state.selected_id != followed && down.empty()) {
      followed = state.selected_id;
      logs.clear();
      source.follow_logs(followed);
    }
    for (auto& line : source.take_log_lines()) logs.add(std::move(line.text), line.err);
    const Frame f{visible, state, [&](int id) { return source.history(id); }, logs, rows.size(), down,
                  options.interval, color, unicode};
    draw(render(f, COLS, LINES), color);
    return visible;
  };

  look();
  auto last_look = Clock::now();
  auto next_look = last_look + options.interval;
  while (!g_quit && !state.quit) {
    if (g_resized) {
      g_resized = 0;
      winsize ws{};
      if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        resize_term(ws.ws_row, ws.ws_col);
        clearok(curscr, TRUE);  // the next refresh repaints every cell of the new size
      }
    }
    // A state change elsewhere brings the next look forward, to at most 5 looks a second
    // however many apps change at once.
    if (source.take_state_changed()) next_look = std::min(next_look, last_look + kSoonest);
    if (Clock::now() >= next_look) {
      look();
      last_look = Clock::now();
      next_look = last_look + options.interval;
    }
    const auto visible = frame();

    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {source.wake_fd(), POLLIN, 0}};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_look - Clock::now()).count();
    const int n = ::poll(fds, fds[1].fd >= 0 ? 2 : 1, static_cast<int>(std::max<long long>(0, wait)));
    if (n < 0) continue;  // a signal: a resize or quit, seen at the top
    if (fds[0].revents & (POLLHUP | POLLERR)) break;  // the terminal went away
    for (int ch = getch(); ch != ERR; ch = getch()) {
      const int key = key_of(ch);
      if (key == kKeyResize) continue;
      state.message.clear();
      auto action = handle_key(state, key, visible, list_rows(LINES, visible.size()));
      if (!action) continue;
      state.message = action->describe + "...";
      state.message_is_error = false;
      frame();
      auto done = source.act(*action);
      state.message = done ? *done : done.error();
      state.message_is_error = !done;
      next_look = Clock::now();  // show its effect now
      break;
    }
  }
  endwin();
  return kOk;
}

}  // namespace pmx::cli
