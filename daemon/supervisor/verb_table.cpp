// The verbs' table: each control verb's name bound to the Supervisor method or small handler
// that answers it; the verbs that start processes refused while pmxd shuts down.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/json_access.hpp"
#include "config/paths.hpp"
#include "config/units.hpp"
#include "daemon/supervisor/metrics_report.hpp"
#include "daemon/supervisor/prometheus_text.hpp"
#include "daemon/supervisor/supervisor.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using ipc::make_error;

void Supervisor::register_verbs() {
  auto with_targets = [this](auto action) {
    return [this, action](const json& params, const Reply& reply) {
      std::vector<int> ids;
      if (auto err = registry_.resolve(params, ids)) return reply.fail(*err);
      action(params, ids, reply);
    };
  };

  server_.on("ping", [this](const json&, const Reply& reply) {
    reply.ok({{"pid", ::getpid()},
              {"version", PMX_VERSION},
              {"exe", config::own_executable()},
              {"home", options_.paths.home},
              {"cgroups", processes_.cgroups()},
              {"apps", registry_.by_id().size()}});
  });

  // The verbs that start processes, refused before they look at anything while pmxd shuts down.
  auto unless_shutting_down = [this](const std::string& verb, Handler handler) {
    server_.on(verb, [this, verb, handler = std::move(handler)](const json& params, const Reply& reply) {
      if (shutting_down()) {
        spdlog::info("{} refused: pmxd is shutting down", verb);
        return reply.fail(shutting_down_error(verb));
      }
      handler(params, reply);
    });
  };

  unless_shutting_down("start", [this](const json& params, const Reply& reply) { start_verb_.handle(params, reply); });
  server_.on("logs", [this](const json& params, const Reply& reply) { logs_verb_.handle(params, reply); });
  unless_shutting_down("scale", [this](const json& params, const Reply& reply) { scale_verb_.handle(params, reply); });

  server_.on("stop", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    const auto watch = config::bool_field(params, "watch");
    if (!watch) return reply.fail(ipc::invalid_param("watch", watch.error()));
    if (*watch == false) {  // `pmx stop --watch`: stop watching too
      restart_triggers_.set_watch(ids, false);
      state_.soon();
    }
    stop_in_order(ids, [this, ids, reply, shape = entry_shape(params)] { reply.ok_text(describe_all(ids, shape)); });
  }));

  unless_shutting_down("restart", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    // watch: "toggle" (`pmx restart --watch`, as PM2) flips it, true or false sets it.
    const json* watch = config::member(params, "watch");
    if (watch && !watch->is_null() && !watch->is_boolean() && *watch != "toggle") {
      return reply.fail(ipc::invalid_param("watch", "must be true, false or \"toggle\""));
    }
    if (auto err = update_env(params, ids)) return reply.fail(*err);
    if (watch && watch->is_boolean()) restart_triggers_.set_watch(ids, watch->get<bool>());
    else if (watch && *watch == "toggle") restart_triggers_.set_watch(ids, std::nullopt);
    if (watch && !watch->is_null()) state_.soon();
    for (int id : ids) dispatch(*registry_.find(id), Event::Restart);
    waiters_.wait_for(ids, settled_or_gone,
             [this, ids, reply, shape = entry_shape(params)] { reply.ok_text(describe_all(ids, shape)); });
  }));

  unless_shutting_down("reload", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    reload_verb(params, ids, reply);
  }));

  server_.on("trigger", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    app_messages_.trigger(params, ids, reply);
  }));
  server_.on("sendData", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    app_messages_.send_data(params, ids, reply);
  }));

  server_.on("delete", with_targets([this](const json&, const std::vector<int>& ids, const Reply& reply) {
    for (int id : ids) {
      Instance& in = *registry_.find(id);
      in.deleting = true;
      dispatch(in, Event::Stop);
    }
    waiters_.wait_for(ids, [this](const Instance* in) { return !in || waiters_.stopped_and_quiet(*in); },
             [this, ids, reply] {
               for (int id : ids) remove(id);
               reply.ok({{"deleted", ids}});
             });
  }));

  server_.on("reset", with_targets([this](const json&, const std::vector<int>& ids, const Reply& reply) {
    for (int id : ids) registry_.find(id)->fsm.reset_counters();
    state_.soon();
    reply.ok_text(describe_all(ids, EntryShape::Full));
  }));

  server_.on("signal", with_targets([this](const json& params, const std::vector<int>& ids, const Reply& reply) {
    std::string name;
    if (auto text = config::string_at(params, "signal")) name = std::string(*text);
    else if (auto number = config::int_at(params, "signal", 1, 64)) name = std::to_string(*number);
    else return reply.fail(ipc::invalid_param("signal", "must be a signal's name (\"SIGUSR2\") or number (12)"));
    int signo = config::signal_from_name(name);
    if (signo == 0) return reply.fail(make_error(ErrorCode::InvalidParams, "unknown signal '" + name + "'", {{"param", "signal"}}));
    std::vector<int> sent;
    for (int id : ids) {
      Instance& in = *registry_.find(id);
      if (in.run.pid > 0 && processes_.signal_leader(in.run.pid, signo)) {
        spdlog::info("{} sent {} to pid {}", label(in), config::signal_name(signo), in.run.pid);
        sent.push_back(id);
      }
    }
    if (sent.empty()) return reply.fail(make_error(ErrorCode::InvalidState, "no targeted app is running"));
    reply.ok({{"signal", config::signal_name(signo)}, {"ids", sent}});
  }));

  server_.on("list", [this](const json& params, const Reply& reply) {
    std::vector<int> ids;
    for (const auto& [id, in] : registry_.by_id()) ids.push_back(id);
    reply.ok_text(describe_all(ids, entry_shape(params)));
  });

  server_.on("metrics", [this](const json& params, const Reply& reply) {
    answer_metrics(registry_, params, reply, [this] { return pmxd_exposition(registry_, server_.requests() + metrics_endpoint_.scrapes()); });
  });

  server_.on("describe", with_targets([this](const json&, const std::vector<int>& ids, const Reply& reply) {
    reply.ok_text(describe_all(ids, EntryShape::Full));
  }));

  server_.on("flush", with_targets([this](const json&, const std::vector<int>& ids, const Reply& reply) {
    json flushed = json::array();
    json failed = json::array();
    std::set<LogSink*> seen;
    for (int id : ids) {
      Instance& in = *registry_.find(id);
      for (LogSink* sink : {in.out_sink.get(), in.err_sink.get(), in.log_sink.get()}) {
        if (!sink || !seen.insert(sink).second) continue;
        if (sink->truncate()) flushed.push_back(sink->path());
        else failed.push_back({{"path", sink->path()}, {"error", std::strerror(errno)}});
      }
    }
    spdlog::info("flushed {} log file(s)", flushed.size());
    reply.ok({{"flushed", flushed}, {"failed", failed}});
  }));

  // reloadLogs also reads pmx.yaml again: edit it, then reloadLogs.
  server_.on("reloadLogs", [this](const json&, const Reply& reply) {
    const std::string error = launcher_.load_settings();
    const std::string metrics_error = error.empty() ? listen_metrics() : "";
    reply.ok({{"reopened", launcher_.reopen_logs()}, {"settings_error", error.empty() ? json(nullptr) : json(error)},
              {"metrics_error", metrics_error.empty() ? json(nullptr) : json(metrics_error)}});
  });

  server_.on("save", [this](const json& params, const Reply& reply) { dumps_.save(params, reply); });
  unless_shutting_down("resurrect", [this](const json& params, const Reply& reply) { dumps_.resurrect(params, reply); });
  server_.on("cleardump", [this](const json&, const Reply& reply) { dumps_.cleardump(reply); });
  unless_shutting_down("update", [this](const json& params, const Reply& reply) { update_verb_.handle(params, reply); });
  server_.on("kill", [this](const json&, const Reply& reply) {
    spdlog::info("kill requested, stopping every app");
    stop_all_then([this, reply] { reply.ok_then({{"stopped", true}}, [this] { io_.stop(); }); });
  });
}

}  // namespace pmx::daemon
