// The Range header of a GET ("bytes=0-499", "bytes=500-", "bytes=-500") against a file's size.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pmx::serve {

/// What a Range header asks of a file of a given size.
struct ByteRange {
  enum class Kind {
    Whole,          ///< no usable range (none, not bytes, malformed, several ranges): 200
    Part,           ///< one satisfiable range: 206 with first..last
    Unsatisfiable,  ///< a well-formed range that starts past the end: 416
  };
  Kind kind = Kind::Whole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  ///< inclusive
};

/// The range header (empty when absent) read against size. Several ranges are answered with the
/// whole file, which RFC 9110 allows (a server may ignore Range).
ByteRange byte_range(std::string_view header, std::uint64_t size);

}  // namespace pmx::serve
