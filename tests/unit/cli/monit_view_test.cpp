// Tests of cli/monit_view.hpp: the screen as a grid of cells: fitting any terminal size,
// shrinking columns, sparklines, scrolling to the selection, NO_COLOR, pmxd gone.
#include "cli/monit_view.hpp"

#include <catch2/catch.hpp>

namespace pmx::cli::monit {
namespace {

std::vector<AppRow> view_rows(int n) {
  std::vector<AppRow> rows;
  for (int i = 0; i < n; ++i) {
    AppRow r;
    r.id = i;
    r.name = "app-with-a-rather-long-name-" + std::to_string(i);
    r.status = i % 2 ? "stopped" : "online";
    r.pid = 1000 + i;
    r.cpu = i;
    r.memory = 1024u * 1024 * static_cast<unsigned>(i + 1);
    rows.push_back(r);
  }
  return rows;
}

std::string screen_of(const Grid& g) {
  std::string out;
  for (int y = 0; y < g.height(); ++y) out += g.row_text(y) + "\n";
  return out;
}

bool shows(const Grid& g, const std::string& part) { return screen_of(g).find(part) != std::string::npos; }

struct ViewFixture {
  std::vector<AppRow> rows = view_rows(3);
  MonitState state;
  History history;
  LogTail logs;
  Frame frame() {
    fix_selection(state, rows);
    return Frame{rows, state, [this](int id) { return history.of(id); }, logs, rows.size(), "",
                 std::chrono::milliseconds{1000}, true, true};
  }
};

TEST_CASE("sparkline: newest at the right, blanks while samples are few, eight steps", "[monit]") {
  CHECK(sparkline({}, 4, 100, true) == "    ");
  CHECK(sparkline({0, 100}, 4, 100, true) == "  ▁█");
  CHECK(sparkline({50}, 1, 100, true) == "▅");
  CHECK(sparkline({1, 2, 3, 4, 5, 6}, 3, 6, false) == "+*#");
  // Above the ceiling, the window's largest value is the top.
  CHECK(sparkline({200, 100}, 2, 100, true) == "█▅");
  CHECK(sparkline({-5, std::nan("")}, 2, 1, true) == "▁▁");
  CHECK(sparkline({1}, 0, 1, true).empty());
}

TEST_CASE("list_columns: everything at 80 columns, then the name and sparklines shrink, then columns go", "[monit]") {
  auto width_of = [](const std::vector<Column>& cs) {
    int w = -1;
    for (const auto& c : cs) w += c.width + 1;
    return w;
  };
  auto titles = [](const std::vector<Column>& cs) {
    std::string t;
    for (const auto& c : cs) t += (c.title.empty() ? "~" : c.title) + " ";
    return t;
  };
  auto wide = list_columns(80, 12);
  CHECK(titles(wide) == "id name mode status ↺ uptime cpu ~ mem ~ ");
  CHECK(width_of(wide) <= 80);
  // Long names: the sparklines shrink before the name does.
  auto long_names = list_columns(80, 30);
  CHECK(long_names[1].width >= 20);
  CHECK(width_of(long_names) <= 80);
  auto narrow = list_columns(50, 30);
  CHECK(width_of(narrow) <= 50);
  CHECK(titles(narrow) == "id name mode status ↺ uptime cpu mem ");
  auto narrower = list_columns(40, 30);
  CHECK(width_of(narrower) <= 40);
  CHECK(titles(narrower) == "id name status ↺ cpu mem ");
  for (int w = 1; w <= 220; ++w) {
    INFO("width " << w);
    CHECK(width_of(list_columns(w, 40)) <= std::max(w, 40));  // the grid clips below ~40
  }
  CHECK(width_of(list_columns(60, 40)) <= 60);
}

TEST_CASE("render never writes past the terminal, whatever its size", "[monit]") {
  ViewFixture v;
  v.rows = view_rows(30);
  for (auto& r : v.rows) r.metrics = {{"Heap Size", "7.23 MiB"}};
  v.logs.add(std::string(500, 'x'), false);
  for (int w : {1, 2, 10, 40, 79, 80, 81, 132, 300}) {
    for (int h : {1, 2, 3, 5, 10, 24, 60}) {
      const Grid g = render(v.frame(), w, h);
      REQUIRE(g.width() == w);
      REQUIRE(g.height() == h);
    }
  }
}

TEST_CASE("render at 80x24 shows the list, the selected app's logs and details, and the keys", "[monit]") {
  ViewFixture v;
  v.rows[0].metrics = {{"Heap Size", "7.23 MiB"}, {"Event Loop Latency p99", "1.20 ms"}};
  v.rows[0].last_exit = "code 1";
  for (int i = 0; i < 3; ++i) v.history.record(v.rows);
  v.logs.add("hello from api", false);
  v.logs.add("oops", true);
  const Grid g = render(v.frame(), 80, 24);
  INFO(screen_of(g));
  CHECK(g.row_text(0).find("pmx monit  3 instances") != std::string::npos);
  CHECK(shows(g, "status"));
  CHECK(shows(g, "app-with-a-rather-long-name-0"));
  CHECK(shows(g, "stopped"));
  CHECK(shows(g, "logs: app-with-a-rather-long-name-0 (id 0)"));
  CHECK(shows(g, "hello from api"));
  CHECK(shows(g, "pid       1000"));
  CHECK(shows(g, "last exit code 1"));
  CHECK(shows(g, "metrics"));
  CHECK(shows(g, "7.23 MiB"));
  CHECK(shows(g, "q quit"));
  // The selected row is drawn in inverse video across the terminal.
  CHECK(g.at(0, 2).inverse);
  CHECK(g.at(79, 2).inverse);
  CHECK_FALSE(g.at(0, 3).inverse);
}

TEST_CASE("no metrics heading when the jlist has no axm_monitor", "[monit]") {
  ViewFixture v;
  CHECK_FALSE(shows(render(v.frame(), 80, 24), "metrics"));
}

TEST_CASE("the list scrolls to keep the selected app on screen", "[monit]") {
  ViewFixture v;
  v.rows = view_rows(40);
  v.state.selected_id = 35;
  const Grid g = render(v.frame(), 80, 24);
  INFO(screen_of(g));
  CHECK(shows(g, "long-name-35"));
  CHECK_FALSE(shows(g, "long-name-0 "));
  int selected_rows = 0;
  for (int y = 0; y < 24; ++y) selected_rows += g.at(0, y).inverse && y > 0;
  CHECK(selected_rows == 1);
}

TEST_CASE("without colour no cell has a colour, with it statuses are coloured", "[monit]") {
  ViewFixture v;
  Frame plain = v.frame();
  plain.color = false;
  const Grid g = render(plain, 80, 24);
  for (int y = 0; y < g.height(); ++y) {
    for (int x = 0; x < g.width(); ++x) REQUIRE(g.at(x, y).color == Color::None);
  }
  const Grid c = render(v.frame(), 80, 24);
  bool green = false;
  for (int x = 0; x < c.width(); ++x) green = green || c.at(x, 2).color == Color::Green;
  CHECK(green);
}

TEST_CASE("when pmxd does not answer, the screen says so", "[monit]") {
  ViewFixture v;
  v.rows.clear();
  Frame f = v.frame();
  f.daemon_down = "Connection refused";
  const Grid g = render(f, 80, 24);
  CHECK(g.row_text(1).starts_with("pmxd is not running (Connection refused); trying again every"));
}

TEST_CASE("the filter shows in the title, and a filter that matches nothing says so", "[monit]") {
  ViewFixture v;
  v.state.filter = "zzz";
  auto all = v.rows;
  v.rows = visible_rows(all, v.state);
  Frame f = v.frame();
  f.total_apps = all.size();
  const Grid g = render(f, 80, 24);
  CHECK(g.row_text(0).find("filter: zzz") != std::string::npos);
  CHECK(shows(g, "no app matches the filter"));
}

TEST_CASE("a footer message replaces the keys, and the help replaces logs and details", "[monit]") {
  ViewFixture v;
  v.state.message = "restart api (id 0): not found";
  v.state.message_is_error = true;
  Grid g = render(v.frame(), 80, 24);
  CHECK(g.row_text(23).starts_with("restart api (id 0): not found"));
  CHECK(g.at(0, 23).color == Color::Red);
  v.state.help = true;
  g = render(v.frame(), 80, 24);
  CHECK(shows(g, "filter by name or namespace"));
  CHECK_FALSE(shows(g, "logs:"));
}

TEST_CASE("Grid::put clips at the edge and shows broken UTF-8 and controls as ?", "[monit]") {
  Grid g(4, 1);
  CHECK(g.put(2, 0, "abcdef") == 2);
  CHECK(g.row_text(0) == "  ab");
  g.put(0, 0, "\xff\x1b");
  CHECK(g.row_text(0) == "??ab");
  g.put(0, 0, "é↺");
  CHECK(g.row_text(0) == "é↺ab");
  CHECK(g.put(0, 5, "x") == 0);
}

}  // namespace
}  // namespace pmx::cli::monit
