// "Code metrics": axm_monitor's entries, one row each, values with their units.
#include "cli/render_metrics.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace pmx::cli {

using json = nlohmann::json;

std::string render_code_metrics(const json& pm2_env, const Style& style) {
  const auto it = pm2_env.find("axm_monitor");
  if (it == pm2_env.end() || !it->is_object() || it->empty()) return "";
  std::vector<std::pair<std::string, std::string>> rows;
  std::size_t width = 0;
  for (const auto& [name, metric] : it->items()) {
    const json value = metric.is_object() ? metric.value("value", json()) : json();
    std::string text = value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump();
    if (metric.is_object()) {
      const json unit = metric.value("unit", json());
      if (unit.is_string() && !unit.get<std::string>().empty()) text += (unit == "%" ? "" : " ") + unit.get<std::string>();
    }
    width = std::max(width, name.size());
    rows.emplace_back(name, std::move(text));
  }
  std::string out = style.color ? "\x1b[1mCode metrics\x1b[0m\n" : "Code metrics\n";
  for (const auto& [name, text] : rows) {
    out += (style.boxes ? "│ " : "") + name + std::string(width - name.size(), ' ') + (style.boxes ? " │ " : "  ") + text + '\n';
  }
  return out;
}

}  // namespace pmx::cli
