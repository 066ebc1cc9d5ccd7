// Client: a blocking JSON-RPC client over the daemon's Unix socket, for the CLI and tests.
#pragma once

#include <string>
#include <system_error>

#include "ipc/framing.hpp"
#include "ipc/protocol.hpp"

namespace pmx::ipc {

/// One connection to pmxd. Calls are sequential; each waits for its answer.
class Client {
 public:
  Client() = default;
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects to the socket at path. Fails with the errno of connect (ENOENT, ECONNREFUSED...).
  std::error_code connect(const std::string& path);

  /// Sends a request and waits for its response. A transport failure comes back as an
  /// error Response with code InternalError and data.kind "transport".
  Response call(const std::string& method, const json& params = json::object());

  /// Like call, but a success comes back as the result's JSON text, unparsed (for printing
  /// large results as they are). Errors come back decoded, with text empty.
  Response call_raw(const std::string& method, const json& params, std::string& text);

  bool connected() const { return fd_ >= 0; }
  void close();

 private:
  /// Sends a request and returns its reply line (or nullopt with the transport error set).
  std::optional<std::string> exchange(const std::string& method, const json& params, long& id, Response& error);

  int fd_ = -1;
  long next_id_ = 1;
  LineBuffer lines_{kMaxMessageBytes * 64};  // replies (jlist of many apps) may be large
};

}  // namespace pmx::ipc
