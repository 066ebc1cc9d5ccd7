// libFuzzer target: the pure pieces of pmx's logs take any bytes. A date format (the input up to
// its first newline) compiles or is refused, and formats; a log line (the rest) becomes a JSON
// string that nlohmann parses back to what its own replacement of bad UTF-8 gives; rotated-file
// names and pmx.yaml never crash.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/daemon_settings.hpp"
#include "config/log_format.hpp"
#include "config/rotated_logs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using nlohmann::json;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view pattern = input.substr(0, newline);
  const std::string_view line = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  if (auto format = pmx::config::DateFormat::compile(pattern)) {
    const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'790'000'000'000LL + 37 * static_cast<long long>(size)));
    std::string stamp;
    format->append(stamp, t);
    format->append(stamp, t - std::chrono::hours(24 * 365 * 60));  // before the epoch
  }

  for (std::string_view text : {input, line}) {
    std::string doc;
    pmx::config::append_json_string(doc, text);
    const json mine = json::parse(doc, nullptr, false);
    if (mine.is_discarded() || !mine.is_string()) std::abort();
    const json theirs = json::parse(json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace));
    if (mine != theirs) std::abort();
  }

  (void)pmx::config::is_rotated_of("/d/" + std::string(pattern), line);
  (void)pmx::config::rotated_name("/d/" + std::string(pattern), std::chrono::system_clock::time_point());
  (void)pmx::config::parse_daemon_settings(input, "pmx.yaml");
  return 0;
}
