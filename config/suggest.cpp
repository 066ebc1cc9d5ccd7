// Edit distance (Levenshtein, two rows) and the nearest candidates.
#include "config/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace pmx::config {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> closest(const std::string& word, const std::vector<std::string>& candidates,
                                 std::size_t max_edits) {
  std::vector<std::pair<std::size_t, std::size_t>> ranked;  // (edits, index)
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    std::size_t d = edit_distance(word, candidates[i]);
    if (word.size() >= 2 && candidates[i].starts_with(word)) d = std::min<std::size_t>(d, 1);
    if (d <= max_edits) ranked.emplace_back(d, i);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [d, i] : ranked) out.push_back(candidates[i]);
  return out;
}

}  // namespace pmx::config
