// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// the one check behind log lines as JSON, file-safe app names and notify messages.
#pragma once

#include <cstddef>
#include <string_view>

namespace pmx::config {

/// The multi-byte UTF-8 sequence starting at s[i] (i < s.size()): true and its length when it
/// is well formed; false and the length of its maximal subpart (the bytes that could still
/// have begun a valid sequence, at least 1) when not, which is what one U+FFFD replaces
/// (Unicode's recommended practice, and nlohmann's and browsers'). An ASCII byte is no
/// multi-byte sequence: false, 1.
bool utf8_sequence(std::string_view s, std::size_t i, std::size_t& len);

/// Whether all of s is well-formed UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace pmx::config
