// Suggestions for a mistyped word: "did you mean 'restart'?" for options and verbs alike.
#pragma once

#include <string>
#include <vector>

namespace pmx::config {

/// Edits (insert, delete, replace; case ignored) that turn a into b.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidates closest to word, at most max_edits away, nearest first (ties in the
/// candidates' order); a candidate word is a prefix of counts as one edit away.
std::vector<std::string> closest(const std::string& word, const std::vector<std::string>& candidates,
                                 std::size_t max_edits = 2);

}  // namespace pmx::config
