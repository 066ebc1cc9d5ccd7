// Tests of cli/monit_keys.hpp: selection, the filter, and the requests the action keys send.
#include "cli/monit_keys.hpp"

#include <catch2/catch.hpp>

namespace pmx::cli::monit {
namespace {

std::vector<AppRow> key_rows() {
  std::vector<AppRow> rows;
  const char* names[] = {"api", "worker", "cron"};
  for (int i = 0; i < 3; ++i) {
    AppRow r;
    r.id = i * 2;  // ids need not be consecutive
    r.name = names[i];
    r.status = i == 2 ? "stopped" : "online";
    rows.push_back(r);
  }
  return rows;
}

TEST_CASE("arrows and j/k move the selection within the visible rows", "[monit]") {
  MonitState s;
  auto rows = key_rows();
  fix_selection(s, rows);
  CHECK(s.selected_id == 0);
  handle_key(s, kKeyDown, rows);
  CHECK(s.selected_id == 2);
  handle_key(s, 'j', rows);
  handle_key(s, 'j', rows);
  CHECK(s.selected_id == 4);  // stays on the last
  handle_key(s, 'k', rows);
  CHECK(s.selected_id == 2);
  handle_key(s, kKeyUp, rows);
  handle_key(s, kKeyUp, rows);
  CHECK(s.selected_id == 0);
  handle_key(s, 'G', rows);
  CHECK(s.selected_id == 4);
}

TEST_CASE("a selected app that goes away leaves the selection on its neighbour", "[monit]") {
  MonitState s;
  auto rows = key_rows();
  s.selected_id = 2;
  rows.erase(rows.begin() + 1);
  fix_selection(s, rows);
  CHECK(s.selected_id == 4);
  rows.pop_back();
  fix_selection(s, rows);
  CHECK(s.selected_id == 0);
  rows.clear();
  fix_selection(s, rows);
  CHECK(s.selected_id == -1);
}

TEST_CASE("r, R, s, + and - ask for the CLI verbs' requests on the selected app", "[monit]") {
  MonitState s;
  auto rows = key_rows();
  fix_selection(s, rows);
  auto a = handle_key(s, 'r', rows);
  REQUIRE(a);
  CHECK(a->method == "restart");
  CHECK(a->params == nlohmann::json{{"targets", {0}}});
  CHECK(a->describe == "restart api (id 0)");
  CHECK(handle_key(s, 'R', rows)->method == "reload");
  CHECK(handle_key(s, 's', rows)->method == "stop");
  auto up = handle_key(s, '+', rows);
  CHECK(up->method == "scale");
  CHECK(up->params == nlohmann::json{{"name", "api"}, {"count", "+1"}});
  CHECK(handle_key(s, '-', rows)->params["count"] == "-1");
  // s on a stopped app starts it, as `pmx start <id>` does: a restart.
  handle_key(s, 'G', rows);
  auto start = handle_key(s, 's', rows);
  REQUIRE(start);
  CHECK(start->verb == Verb::Start);
  CHECK(start->method == "restart");
  CHECK(start->params == nlohmann::json{{"targets", {4}}});
}

TEST_CASE("no action without a selected app", "[monit]") {
  MonitState s;
  std::vector<AppRow> none;
  CHECK_FALSE(handle_key(s, 'r', none));
  CHECK_FALSE(handle_key(s, kKeyDown, none));
  CHECK(s.selected_id == -1);
}

TEST_CASE("/ edits the filter: typed keys go to it, not to actions, Enter keeps it, Esc clears it", "[monit]") {
  MonitState s;
  auto rows = key_rows();
  fix_selection(s, rows);
  handle_key(s, '/', rows);
  CHECK(s.editing_filter);
  for (int c : {'w', 'o', 'r', 'x'}) CHECK_FALSE(handle_key(s, c, rows));
  handle_key(s, kKeyBackspace, rows);
  CHECK(s.filter == "wor");
  handle_key(s, kKeyEnter, rows);
  CHECK_FALSE(s.editing_filter);
  auto visible = visible_rows(rows, s);
  REQUIRE(visible.size() == 1);
  CHECK(visible.front().name == "worker");
  fix_selection(s, visible);
  CHECK(s.selected_id == 2);
  handle_key(s, '/', rows);
  handle_key(s, kKeyEscape, rows);
  CHECK(s.filter.empty());
}

TEST_CASE("q and Ctrl-C quit, ? opens the help and the next key closes it", "[monit]") {
  auto rows = key_rows();
  MonitState s;
  handle_key(s, '?', rows);
  CHECK(s.help);
  CHECK_FALSE(handle_key(s, 'r', rows));  // closes the help, restarts nothing
  CHECK_FALSE(s.help);
  handle_key(s, 'q', rows);
  CHECK(s.quit);
  MonitState c;
  handle_key(c, 3, rows);
  CHECK(c.quit);
}

}  // namespace
}  // namespace pmx::cli::monit
