// Messages to and from a Node app's IPC channel beyond readiness and sockets, as PM2 has them:
// `trigger` runs an action the app registered (@pm2/io's `io.action()` sends
// {type:'axm:action'}; its answer comes back as {type:'axm:reply'}), and `sendData` hands the
// app a {type:'process:msg'} packet, as PM2's sendDataToProcessId does. What an app sends of
// type process:msg is published on the events topic. Metrics (the preload's, @pm2/io's
// axm:monitor) are kept on the instance (AppMetrics).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/json_access.hpp"
#include "daemon/supervisor/app_messages.hpp"

namespace pmx::daemon {

using ipc::ErrorCode;
using json = ipc::json;
using ipc::make_error;

namespace {

/// The most actions one run may register: an app cannot grow pmxd without bound.
constexpr std::size_t kMaxActions = 256;
/// How long `trigger` waits for the instances' replies by default.
constexpr Millis kTriggerWait{5000};

/// The preload's runtime metrics or @pm2/io's axm:monitor, kept as the run's last report; one of
/// a bad shape is dropped and counted (and named in pmx.log at debug).
void keep_metrics(AppMetrics& metrics, const NodeMessage& msg, const std::string& who) {
  if (msg.kind == NodeMessage::Kind::Metrics) {
    auto runtime = read_runtime_metrics(msg.raw);
    if (!runtime) {
      ++metrics.dropped;
      return spdlog::debug("{} sent runtime metrics whose {}, ignoring", who, runtime.error());
    }
    metrics.runtime = std::move(*runtime);
    return;
  }
  auto custom = read_axm_monitor(msg.value, metrics.dropped);
  if (!custom) {
    ++metrics.dropped;
    return spdlog::debug("{} sent axm:monitor whose {}, ignoring", who, custom.error());
  }
  metrics.custom = std::move(*custom);
}

bool reachable(const Instance& in) {
  const State s = in.fsm.state();
  return in.run.channel && in.run.channel->is_open() && (s == State::Online || s == State::Launching);
}

}  // namespace

AppMessages::AppMessages(Timers& timers, Registry& registry, ControlServer& server)
    : timers_(timers), registry_(registry), server_(server) {}

void AppMessages::on_message(Instance& in, std::vector<std::string>& actions, bool current, const NodeMessage& msg) {
  // decode_node_message checked the shapes: an action's name is a non-empty string.
  const std::string& name = msg.action_name;
  if (msg.kind == NodeMessage::Kind::Action) {
    if (std::find(actions.begin(), actions.end(), name) == actions.end() && actions.size() < kMaxActions) {
      actions.push_back(name);
      spdlog::debug("{} registered action '{}'", label(in), name);
    }
    return;
  }
  if (msg.kind == NodeMessage::Kind::ActionReply && current) {
    std::vector<Trigger*> complete;
    for (const auto& t : triggers_) {
      if (t->action == name && t->waiting.erase(in.id) == 1) {
        t->replies[in.id] = msg.value;
        if (t->waiting.empty()) complete.push_back(t.get());
      }
    }
    for (Trigger* t : complete) answer(*t);  // every reply is in: no need to wait on
    return;
  }
  if ((msg.kind == NodeMessage::Kind::Metrics || msg.kind == NodeMessage::Kind::Monitor) && current) {
    return keep_metrics(in.metrics, msg, label(in));
  }
  if (msg.kind == NodeMessage::Kind::ProcessMsg && current) {
    server_.publish(ControlServer::kEventsTopic, "process:msg",
                    {{"pm_id", in.id}, {"name", in.spec.name}, {"data", msg.value}, {"raw", msg.raw}});
  }
}

void AppMessages::trigger(const json& params, const std::vector<int>& ids, const Reply& reply) {
  const auto action = config::string_at(params, "action");
  if (!action || action->empty()) return reply.fail(ipc::invalid_param("action", "must be the action's name (a string)"));
  const std::string name(*action);
  const auto wait_param = config::int_field(params, "wait_ms", 0);
  if (!wait_param) return reply.fail(ipc::invalid_param("wait_ms", wait_param.error()));
  const json* given = config::member(params, "params");
  const json action_params = given ? *given : json();
  auto t = std::make_unique<Trigger>(reply);
  t->action = name;
  std::vector<std::string> known;
  for (int id : ids) {
    Instance& in = *registry_.find(id);
    const auto& actions = in.run.actions;
    for (const auto& a : actions) {
      if (std::find(known.begin(), known.end(), a) == known.end()) known.push_back(a);
    }
    if (!reachable(in) || std::find(actions.begin(), actions.end(), name) == actions.end()) continue;
    // As PM2: the bare name, or {msg, opts} when the action is given parameters.
    in.run.channel->send(action_params.is_null() ? json(name) : json{{"msg", name}, {"opts", action_params}});
    t->waiting.insert(id);
    t->sent.push_back(id);
  }
  if (t->sent.empty()) {
    std::string list;
    for (const auto& a : known) list += (list.empty() ? "" : ", ") + a;
    return reply.fail(make_error(ErrorCode::InvalidState,
                                 "no running instance of the targets has an action '" + name + "' (" +
                                     (list.empty() ? "they registered none" : "registered: " + list) + ")"));
  }
  spdlog::info("action '{}' triggered on {} instance(s)", name, t->sent.size());
  t->wait = kTriggerWait;
  if (*wait_param) t->wait = Millis(std::min<std::int64_t>(**wait_param, kMaxTimer.count()));
  // The deadline is the trigger's: answered early or dropped with pmxd's end, it never runs.
  t->timer.arm_after(timers_, t->wait, [this, trigger = t.get()] { answer(*trigger); });
  triggers_.push_back(std::move(t));
}

void AppMessages::answer(Trigger& t) {
  auto it = std::find_if(triggers_.begin(), triggers_.end(), [&](const auto& p) { return p.get() == &t; });
  if (it == triggers_.end()) return;
  const std::unique_ptr<Trigger> done = std::move(*it);
  triggers_.erase(it);
  // In pm_id order: {pm_id, name, return} for each reply, {pm_id, name} for each silence.
  json replies = json::array();
  json no_reply = json::array();
  for (int id : done->sent) {
    const Instance* in = registry_.find(id);
    json entry = {{"pm_id", id}, {"name", in ? in->spec.name : ""}};
    if (auto r = done->replies.find(id); r != done->replies.end()) {
      entry["return"] = r->second;
      replies.push_back(std::move(entry));
    } else {
      no_reply.push_back(std::move(entry));
    }
  }
  done->reply.ok({{"action", done->action}, {"replies", replies}, {"no_reply", no_reply}, {"wait_ms", done->wait.count()}});
}

void AppMessages::send_data(const json& params, const std::vector<int>& ids, const Reply& reply) {
  const json* data = config::member(params, "data");
  if (!data) return reply.fail(ipc::invalid_param("data", "is required: the data to send"));
  // PM2's topic is a string; true (the default) when none is given.
  const json* topic_param = config::member(params, "topic");
  if (topic_param && !topic_param->is_string() && !topic_param->is_boolean() && !topic_param->is_null()) {
    return reply.fail(ipc::invalid_param("topic", "must be a string or a boolean"));
  }
  const json topic = topic_param && !topic_param->is_null() ? *topic_param : json(true);
  std::vector<int> sent;
  for (int id : ids) {
    Instance& in = *registry_.find(id);
    if (!reachable(in)) continue;
    // PM2's sendDataToProcessId packet, which the app gets as it is in process.on('message').
    in.run.channel->send({{"type", "process:msg"}, {"topic", topic}, {"data", *data}, {"id", id}});
    sent.push_back(id);
  }
  if (sent.empty()) {
    return reply.fail(make_error(ErrorCode::InvalidState,
                                 "no targeted instance is a running Node app (sendData goes through Node's IPC channel)"));
  }
  reply.ok({{"ids", sent}});
}

}  // namespace pmx::daemon
