// libFuzzer target: the ecosystem loaders (YAML and JSON) must take any input without a
// crash, a hang or a sanitizer report. The first byte picks the format.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/ecosystem.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto format = data[0] % 2 == 0 ? pmx::config::Format::Yaml : pmx::config::Format::Json;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  pmx::config::LoadOptions options{"production", {}, ""};
  auto result = pmx::config::parse_ecosystem(text, format, "fuzz", "/nonexistent", options);
  (void)result;
  return 0;
}
