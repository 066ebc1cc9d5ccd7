// UTF-8 well-formedness, one byte range table for every user.
#include "config/utf8.hpp"

namespace pmx::config {

bool utf8_sequence(std::string_view s, std::size_t i, std::size_t& len) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  std::size_t want = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b >= 0xC2 && b <= 0xDF) want = 2;
  else if (b == 0xE0) want = 3, lo = 0xA0;
  else if (b == 0xED) want = 3, hi = 0x9F;
  else if (b >= 0xE1 && b <= 0xEF) want = 3;
  else if (b == 0xF0) want = 4, lo = 0x90;
  else if (b == 0xF4) want = 4, hi = 0x8F;
  else if (b >= 0xF1 && b <= 0xF3) want = 4;
  len = 1;
  if (want == 0) return false;
  for (std::size_t k = 1; k < want; ++k) {
    if (i + k >= s.size()) return false;
    const unsigned char next = byte(i + k);
    if (k == 1 ? (next < lo || next > hi) : (next < 0x80 || next > 0xBF)) return false;
    ++len;
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 1;
    if (!utf8_sequence(s, i, len)) return false;
    i += len;
  }
  return true;
}

}  // namespace pmx::config
