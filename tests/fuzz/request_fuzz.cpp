// libFuzzer target: the request decoder, and the app spec reader behind `start`, must take any
// line without a crash, a hang, unbounded recursion or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "config/app_spec.hpp"
#include "ipc/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto decoded = pmx::ipc::decode_request(line);
  if (auto* error = std::get_if<pmx::ipc::RpcError>(&decoded)) {
    (void)pmx::ipc::encode_error(nullptr, *error);
    return 0;
  }
  const auto& request = std::get<pmx::ipc::Request>(decoded);
  // What the daemon does with a start request: read each app, answer with the id.
  if (request.params.is_object()) {
    for (const char* key : {"app", "apps"}) {
      auto it = request.params.find(key);
      if (it == request.params.end()) continue;
      const nlohmann::json apps = it->is_array() ? *it : nlohmann::json::array({*it});
      for (const auto& app : apps) {
        auto spec = pmx::config::spec_from_json(app);
        if (spec) (void)pmx::config::to_json(*spec).dump();
      }
    }
  }
  (void)pmx::ipc::encode_result(request.id.value_or(nullptr), request.params);
  return 0;
}
