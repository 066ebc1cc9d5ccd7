// LogsVerb: `logs`, the last lines of the targets' log files and, with follow, their output
// from then on.
#pragma once

#include <boost/asio/io_context.hpp>

#include "daemon/control/control_server.hpp"
#include "daemon/logs/log_feed.hpp"
#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class LogsVerb {
 public:
  /// Every part must outlive the verb.
  LogsVerb(boost::asio::io_context& io, const Registry& registry, ControlServer& server, LogFeed& feed)
      : io_(io), registry_(registry), server_(server), feed_(feed) {}
  LogsVerb(const LogsVerb&) = delete;
  LogsVerb& operator=(const LogsVerb&) = delete;

  void handle(const ipc::json& params, const Reply& reply);

 private:
  boost::asio::io_context& io_;
  const Registry& registry_;
  ControlServer& server_;
  LogFeed& feed_;
};

}  // namespace pmx::daemon
