// ScaleVerb: an app's instances brought to a total ("N"), or some added ("+N") or
// removed ("-N"). Added instances copy the lowest-id instance (its spec and caller
// environment) and take the smallest free NODE_APP_INSTANCE; removed ones are the highest ids,
// stopped gracefully and deleted as `delete` does. The reply waits until both are done.
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/scale_count.hpp"
#include "daemon/supervisor/scale_verb.hpp"

namespace pmx::daemon {

namespace {

/// The result's text: fields (never empty), then "apps": the entries as describe_all wrote
/// them, spliced in rather than parsed again.
std::string result_text(const ipc::json& fields, const std::string& entries) {
  std::string text = fields.dump(-1, ' ', false, ipc::json::error_handler_t::replace);
  text.pop_back();  // the closing brace
  return text + ",\"apps\":" + entries + "}";
}

}  // namespace

void ScaleVerb::handle(const ipc::json& params, const Reply& reply) {
  using json = ipc::json;
  using ipc::ErrorCode;
  using ipc::make_error;
  const auto name_param = params.find("name");
  if (name_param == params.end() || !name_param->is_string() || name_param->get_ref<const std::string&>().empty()) {
    return reply.fail(ipc::invalid_param("name", "must be the name of an app"));
  }
  const std::string name = name_param->get<std::string>();
  std::string text;
  if (auto c = params.find("count"); c != params.end()) {
    if (c->is_string()) text = c->get<std::string>();
    else if (c->is_number_integer()) text = std::to_string(c->get<long long>());  // -1 removes one, 3 sets 3
    else if (c->is_number()) text = c->dump();                                     // 1.5: refused below
    else return reply.fail(ipc::invalid_param("count", "must be \"N\", \"+N\" or \"-N\", or an integer"));
  } else {
    return reply.fail(ipc::invalid_param("count", "is required: \"N\", \"+N\" or \"-N\""));
  }
  const std::string what = "scale " + name + " " + text;
  auto count = config::parse_scale_count(text);
  if (!count) return reply.fail(make_error(ErrorCode::InvalidParams, what + ": " + count.error()));

  // One app by its name: an id, a namespace or "all" would make "the app's count" ambiguous.
  auto owner = registry_.apps().find(name);
  std::vector<Instance*> live;  // in pm_id order; those being deleted do not count
  if (owner != registry_.apps().end()) {
    for (const auto& [id, in] : owner->second.instances()) {
      if (!in->deleting) live.push_back(in.get());
    }
  }
  if (live.empty()) {
    return reply.fail(make_error(ErrorCode::NotFound,
                                 "no app is named '" + name + "' (scale takes one app name, not an id, a namespace or all)",
                                 {{"targets", json::array({name})}}));
  }
  const int current = static_cast<int>(live.size());
  auto scaled = count->total(current);
  if (!scaled) return reply.fail(make_error(ErrorCode::InvalidState, what + ": " + scaled.error()));
  const int total = *scaled;

  auto ids_of = [](const std::vector<Instance*>& instances) {
    std::vector<int> ids;
    for (const Instance* in : instances) ids.push_back(in->id);
    return ids;
  };
  if (total == current) {
    const std::string message = name + " has " + std::to_string(current) + " instance" + (current == 1 ? "" : "s") +
                                " already: nothing to do";
    return reply.ok_text(result_text({{"name", name},
                                      {"instances", current},
                                      {"added", json::array()},
                                      {"removed", json::array()},
                                      {"message", message}},
                                     control_.describe_all(ids_of(live), EntryShape::Full)));
  }

  spdlog::info("{}: scaling from {} to {} instance(s)", name, current, total);
  for (Instance* in : live) in->spec.instances = total;
  state_.soon();

  if (total > current) {
    // Copies, not references: add_instance inserts into the map that holds the first one.
    const config::AppSpec spec = live.front()->spec;
    const auto caller_env = live.front()->caller_env;
    std::vector<int> all = ids_of(live);
    std::vector<int> added;
    for (int n = current; n < total; ++n) added.push_back(control_.add_instance(spec, caller_env, -1));
    if (spec.autostart) control_.start_registered(added);
    all.insert(all.end(), added.begin(), added.end());
    waiters_.wait_for(added, settled_or_gone,
             [this, name, total, all, added, reply] {
               reply.ok_text(result_text(
                   {{"name", name}, {"instances", total}, {"added", added}, {"removed", json::array()}},
                   control_.describe_all(all, EntryShape::Full)));
             });
    return;
  }

  // The highest ids go; each is stopped as `stop` does (kill_signal, SIGKILL after
  // kill_timeout), then deleted.
  const std::vector<int> kept = ids_of({live.begin(), live.begin() + total});
  std::vector<int> removed;
  for (auto it = live.rbegin(); it != live.rend() && static_cast<int>(removed.size()) < current - total; ++it) {
    Instance& in = **it;
    in.deleting = true;
    removed.push_back(in.id);
    control_.dispatch(in, Event::Stop);
  }
  waiters_.wait_for(removed, [this](const Instance* in) { return !in || waiters_.stopped_and_quiet(*in); },
           [this, name, total, kept, removed, reply] {
             for (int id : removed) control_.remove(id);
             reply.ok_text(result_text(
                 {{"name", name}, {"instances", total}, {"added", json::array()}, {"removed", removed}},
                 control_.describe_all(kept, EntryShape::Full)));
           });
}

}  // namespace pmx::daemon
