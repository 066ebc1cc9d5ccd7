// `pmx monit` for real: the built pmx in a detached tmux session of 80x24 against a real pmxd
// and real apps, read with capture-pane and driven with send-keys. Skipped (with a warning)
// where tmux is missing.
#include <catch2/catch.hpp>

#include <memory>
#include <regex>
#include <sstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// tmux's path, "" when it is not installed.
const std::string& tmux_path() {
  static const std::string path = [] {
    auto found = run_process({"/bin/sh", "-c", "command -v tmux"});
    std::string p = found.exit_code == 0 ? found.out : "";
    while (!p.empty() && p.back() == '\n') p.pop_back();
    return p;
  }();
  return path;
}

bool have_tmux() { return !tmux_path().empty(); }

/// One tmux server of the test's own (its socket in the test's home, no configuration read)
/// running `pmx monit` in a session of 80x24, then a line with its exit code.
class MonitPane {
 public:
  MonitPane(const TempHome& home, std::vector<std::string> extra_env = {}, std::string args = "--interval 300ms")
      // A socket of its own for each pane: a server just killed may still hold the last one.
      : socket_(home.scratch("tmux-" + std::to_string(++panes_) + ".sock")) {
    std::vector<std::string> argv = {tmux_path(), "-S", socket_, "-f", "/dev/null", "new-session", "-d",
                                     "-x", "80", "-y", "24", "-s", "monit",
                                     "-e", "PMX_HOME=" + home.path(), "-e", "PMXD=/bin/false", "-e", "LANG=C.UTF-8"};
    for (auto& e : extra_env) argv.insert(argv.end(), {"-e", e});
    // The shell stays after monit so that its exit code and the restored screen can be read.
    argv.push_back(bin::kPmx + " monit " + args + "; echo \"monit exited $?\"; exec sleep 600");
    const auto started = run_process(argv, tmux_options());
    INFO(started);
    REQUIRE(started.exit_code == 0);
  }
  ~MonitPane() { run_process({tmux_path(), "-S", socket_, "kill-server"}, tmux_options()); }
  MonitPane(const MonitPane&) = delete;
  MonitPane& operator=(const MonitPane&) = delete;

  /// The pane's text; with escapes, its colours and attributes as SGR sequences.
  std::string screen(bool escapes = false) const {
    std::vector<std::string> argv = {tmux_path(), "-S", socket_, "capture-pane", "-p", "-t", "monit"};
    if (escapes) argv.push_back("-e");
    return run_process(argv, tmux_options()).out;
  }
  /// The value of a tmux format for the pane (#{alternate_on}, #{cursor_flag}).
  std::string format(const std::string& f) const {
    auto out = run_process({tmux_path(), "-S", socket_, "display-message", "-p", "-t", "monit", f}, tmux_options()).out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  void keys(const std::vector<std::string>& keys) const {
    std::vector<std::string> argv = {tmux_path(), "-S", socket_, "send-keys", "-t", "monit"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    REQUIRE(run_process(argv, tmux_options()).exit_code == 0);
  }
  void resize(int width, int height) const {
    REQUIRE(run_process({tmux_path(), "-S", socket_, "resize-window", "-t", "monit", "-x", std::to_string(width), "-y",
                         std::to_string(height)},
                        tmux_options())
                .exit_code == 0);
  }
  /// Waits until the screen satisfies pred; false (with the screen printed) at the deadline.
  bool wait_for(const std::function<bool(const std::string&)>& pred, milliseconds timeout = 10s) const {
    std::string last;
    const bool ok = wait_until([&] { return pred(last = screen()); }, timeout);
    if (!ok) UNSCOPED_INFO("screen:\n" << last);
    return ok;
  }
  bool wait_shows(const std::string& part, milliseconds timeout = 10s) const {
    return wait_for([&](const std::string& s) { return mentions(s, part); }, timeout);
  }

 private:
  static RunOptions tmux_options() {
    RunOptions o;
    o.timeout = 10s;
    o.env = {{"LANG", "C.UTF-8"}};
    o.unset = {"TMUX"};
    return o;
  }
  static inline int panes_ = 0;
  std::string socket_;
};

/// The number of characters (code points) of the longest line of text.
std::size_t widest_line(const std::string& text) {
  std::size_t widest = 0, cur = 0;
  for (unsigned char c : text) {
    if (c == '\n') widest = std::max(widest, cur), cur = 0;
    else if ((c & 0xc0) != 0x80) ++cur;
  }
  return std::max(widest, cur);
}

/// text's lines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The rows of the process list: the lines after the header that start with an id.
std::string list_part(const std::string& screen) {
  auto logs = screen.find("logs");
  return screen.substr(0, logs);
}

int restarts_of(const TempHome& home, const std::string& name) {
  for (const auto& app : jlist_of(home)) {
    if (app.value("name", "") == name) return app["pm2_env"].value("restart_time", -1);
  }
  return -1;
}

void start_monit_apps(const TempHome& home) {
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kTicker, "--name", "alpha", "--", "200"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "bravo", "--kill-timeout", "500"}), 0);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "charlie", "--kill-timeout", "500"}), 0);
  REQUIRE(wait_until([&] {
    const json apps = jlist_of(home);
    return apps.size() == 3 && std::all_of(apps.begin(), apps.end(), [](const json& a) {
             return a["pm2_env"].value("status", "") == "online";
           });
  }, 10s));
}

}  // namespace

TEST_CASE("pmx monit under tmux: the list, selection, logs, r restarts, the filter, a resize, q restores the terminal",
          "[integration][monit]") {
  if (!have_tmux()) {
    WARN("tmux is not installed: pmx monit's terminal test skipped (apt-get install tmux)");
    return;
  }
  TempHome home;
  DaemonProcess daemon(home);
  start_monit_apps(home);
  MonitPane pane(home);

  // The list, with the first app selected and its log lines below.
  REQUIRE(pane.wait_for([](const std::string& s) {
    return mentions(s, "pmx monit  3 instances") && mentions(s, "alpha") && mentions(s, "bravo") &&
           mentions(s, "charlie") && mentions(s, "online") && mentions(s, "logs: alpha (id 0)") && mentions(s, "tick ");
  }));
  CHECK(pane.format("#{alternate_on}") == "1");
  CHECK(widest_line(pane.screen()) <= 80);

  // j selects the next app; r restarts it through the `restart` request.
  pane.keys({"j"});
  REQUIRE(pane.wait_shows("logs: bravo (id 1)"));
  REQUIRE(restarts_of(home, "bravo") == 0);
  pane.keys({"r"});
  REQUIRE(pane.wait_shows("restart bravo (id 1): done"));
  CHECK(restarts_of(home, "bravo") == 1);
  CHECK(restarts_of(home, "alpha") == 0);
  CHECK(restarts_of(home, "charlie") == 0);
  // The restart count shows in the list within a refresh.
  REQUIRE(pane.wait_for([](const std::string& s) { return std::regex_search(s, std::regex("bravo +fork +online +1 ")); }));

  // / filters by name: only charlie is listed, and selected.
  pane.keys({"/", "c", "h", "a", "r", "Enter"});
  REQUIRE(pane.wait_for([](const std::string& s) {
    const auto list = list_part(s);
    return mentions(s, "filter: char") && mentions(list, "charlie") && !mentions(list, "alpha") &&
           !mentions(list, "bravo") && mentions(s, "logs: charlie (id 2)");
  }));
  pane.keys({"Escape"});
  REQUIRE(pane.wait_for([](const std::string& s) { return mentions(list_part(s), "alpha") && !mentions(s, "filter:"); }));

  // A resize: laid out again for 60x20 (no details column below 70), nothing wrapped: the
  // title on the first row, the keys on the last.
  REQUIRE(mentions(pane.screen(), "details"));
  pane.resize(60, 20);
  REQUIRE(pane.wait_for([](const std::string& s) {
    const auto rows = lines_of(s);
    return rows.size() >= 20 && rows[0].starts_with(" pmx monit") && rows[1].starts_with(" id name") &&
           mentions(rows[2], "alpha") && rows[19].starts_with("↑↓ move") && !mentions(s, "details");
  }));
  CHECK(widest_line(pane.screen()) <= 60);
  pane.resize(80, 24);
  REQUIRE(pane.wait_for([](const std::string& s) {
    const auto rows = lines_of(s);
    return rows.size() >= 24 && rows[0].starts_with(" pmx monit") && rows[23].starts_with("↑↓ move") &&
           mentions(s, "details");
  }));

  // ? shows the help, any key closes it.
  pane.keys({"?"});
  REQUIRE(pane.wait_shows("filter by name or namespace"));
  pane.keys({"x"});
  REQUIRE(pane.wait_for([](const std::string& s) { return !mentions(s, "filter by name or namespace"); }));

  // q: exit 0, the alternate screen left, the cursor back.
  pane.keys({"q"});
  REQUIRE(pane.wait_shows("monit exited 0"));
  CHECK_FALSE(mentions(pane.screen(), "pmx monit  3"));
  CHECK(pane.format("#{alternate_on}") == "0");
  CHECK(pane.format("#{cursor_flag}") == "1");
}

TEST_CASE("pmx monit says pmxd is not running while it is gone, starts none, and shows the apps when it is back",
          "[integration][monit]") {
  if (!have_tmux()) {
    WARN("tmux is not installed: pmx monit's terminal test skipped (apt-get install tmux)");
    return;
  }
  TempHome home;
  auto first = std::make_unique<DaemonProcess>(home);
  start_monit_apps(home);
  MonitPane pane(home);
  REQUIRE(pane.wait_shows("charlie"));

  first->crash();
  REQUIRE(pane.wait_shows("pmxd is not running"));
  CHECK_FALSE(mentions(pane.screen(), "monit exited"));
  // PMXD=/bin/false in the pane: had monit tried to start a daemon, none would come; and a
  // DaemonProcess refuses to start beside a running pmxd, so the one below is the only one.
  DaemonProcess second(home);
  REQUIRE(pane.wait_for([](const std::string& s) {
    return !mentions(s, "pmxd is not running") && mentions(s, "alpha") && mentions(s, "charlie") &&
           mentions(s, "logs: alpha (id 0)");
  }));
  // The log follow came back with the daemon: new lines of alpha arrive.
  const std::string before = pane.screen();
  REQUIRE(pane.wait_for([&](const std::string& s) { return s != before && mentions(s, "tick "); }));

  // Ctrl-C quits as q does.
  pane.keys({"C-c"});
  REQUIRE(pane.wait_shows("monit exited 0"));
}

TEST_CASE("pmx monit apps started and deleted elsewhere appear and disappear", "[integration][monit]") {
  if (!have_tmux()) {
    WARN("tmux is not installed: pmx monit's terminal test skipped (apt-get install tmux)");
    return;
  }
  TempHome home;
  DaemonProcess daemon(home);
  MonitPane pane(home, {}, "");  // the default interval
  REQUIRE(pane.wait_shows("no app: start one with pmx start"));
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "delta", "--kill-timeout", "500"}), 0);
  REQUIRE(pane.wait_for([](const std::string& s) { return mentions(s, "delta") && mentions(s, "online"); }, 5s));
  REQUIRE_EXIT(run_pmx(home.path(), {"delete", "delta"}), 0);
  REQUIRE(pane.wait_for([](const std::string& s) { return !mentions(list_part(s), "delta"); }, 5s));
  pane.keys({"q"});
  REQUIRE(pane.wait_shows("monit exited 0"));
}

TEST_CASE("pmx monit colours statuses, and not under NO_COLOR", "[integration][monit]") {
  if (!have_tmux()) {
    WARN("tmux is not installed: pmx monit's terminal test skipped (apt-get install tmux)");
    return;
  }
  TempHome home;
  DaemonProcess daemon(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "echo", "--kill-timeout", "500"}), 0);
  // A foreground colour (30-37, 90-97, 38;5;n) in tmux's SGR output.
  const std::regex colour("\x1b\\[([0-9;]*;)?(3[0-8]|9[0-7])[;m]");
  {
    MonitPane pane(home);
    REQUIRE(pane.wait_shows("online"));
    CHECK(std::regex_search(pane.screen(true), colour));
    pane.keys({"q"});
    REQUIRE(pane.wait_shows("monit exited 0"));
  }
  {
    MonitPane pane(home, {"NO_COLOR=1"});
    REQUIRE(pane.wait_shows("online"));
    const std::string screen = pane.screen(true);
    INFO(screen);
    CHECK_FALSE(std::regex_search(screen, colour));
    CHECK(mentions(screen, "\x1b[7m"));  // the selected row is still in inverse video
    pane.keys({"q"});
    REQUIRE(pane.wait_shows("monit exited 0"));
  }
}

TEST_CASE("pmx monit without a terminal exits 2 and says why", "[integration][monit]") {
  TempHome home;
  const auto r = run_pmx(home.path(), {"monit"});
  CHECK(r.exit_code == 2);
  CHECK(mentions(r.err, "monit needs a terminal"));
  CHECK_FALSE(file_exists(home.socket()));  // no daemon was started
}

TEST_CASE("pmx monit opens with the sparklines full of pmxd's history", "[integration][monit]") {
  if (!have_tmux()) {
    WARN("tmux is not installed: pmx monit's terminal test skipped (apt-get install tmux)");
    return;
  }
  TempHome home;
  DaemonProcess daemon(home);
  REQUIRE_EXIT(run_pmx(home.path(), {"start", bin::kSleeper, "--name", "echo", "--kill-timeout", "500"}), 0);
  // pmxd keeps a point every 5 s: wait for three, before monit opens.
  REQUIRE(wait_until([&] {
    RawClient c;
    if (!c.connect(home.socket())) return false;
    auto reply = c.call(1, "metrics", {{"targets", {"echo"}}});
    return reply && reply->contains("result") &&
           reply->at("result").at("instances").at(0).at("history").at("time").size() >= 3;
  }, 30s));
  MonitPane pane(home, {}, "");  // the default interval: one look a second
  // The first screen that lists the app already draws each of its two sparklines with three
  // points or more; monit's own samples would add one a second.
  std::string row;
  REQUIRE(pane.wait_for([&](const std::string& s) {
    for (const std::string& line : lines_of(s)) {
      if (mentions(line, "echo") && mentions(line, "online")) return (row = line), true;
    }
    return false;
  }));
  INFO(row);
  std::size_t glyphs = 0;
  for (const char* block : {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"}) {
    for (auto at = row.find(block); at != std::string::npos; at = row.find(block, at + 1)) ++glyphs;
  }
  CHECK(glyphs >= 6);
  pane.keys({"q"});
  REQUIRE(pane.wait_shows("monit exited 0"));
}
