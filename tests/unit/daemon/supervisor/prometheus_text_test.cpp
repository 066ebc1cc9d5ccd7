// The Prometheus exposition: its families, labels and escaping, and which series each instance
// has, from instances whose readings and reports are set by hand.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "daemon/supervisor/prometheus_text.hpp"
#include "tests/unit/daemon/supervisor/supervisor_rig.hpp"

using namespace pmx;
using namespace pmx::daemon;
using json = ipc::json;

namespace {

struct ExpositionRig {
  /// An instance of name in namespace, online with pid when pid > 0.
  Instance& add(int id, const std::string& name, const std::string& ns, pid_t pid) {
    auto spec = config::spec_from_json(json{{"name", name}, {"namespace", ns}, {"script", "/bin/sh"}});
    REQUIRE(spec);
    Instance& in = registry.insert(std::make_unique<Instance>(id, *spec));
    if (pid > 0) {
      (void)in.fsm.handle(Event::Start, Clock::now());
      (void)in.fsm.handle(Event::Spawned, Clock::now());
      in.run.pid = pid;
    }
    return in;
  }
  std::string text() const {
    DaemonFigures d;
    d.resident_bytes = 4 << 20;
    d.open_fds = 12;
    d.requests = 7;
    d.version = "0.1.0";
    d.commit = "abc";
    return prometheus_text(registry, d, 100);
  }

  boost::asio::io_context io{1};
  Registry registry;
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST_CASE("the exposition has every family with HELP and TYPE, even with no instance", "[prometheus]") {
  ExpositionRig rig;
  const std::string text = rig.text();
  for (const char* family : {"pmx_instance_status gauge", "pmx_instance_restarts_total counter",
                             "pmx_instance_cpu_seconds_total counter", "pmx_instance_memory_bytes gauge",
                             "pmx_instance_start_time_seconds gauge", "pmx_nodejs_heap_used_bytes gauge",
                             "pmx_nodejs_heap_total_bytes gauge", "pmx_nodejs_active_handles gauge",
                             "pmx_nodejs_eventloop_delay_seconds gauge", "pmx_app_metric gauge",
                             "pmx_daemon_resident_memory_bytes gauge", "pmx_daemon_open_fds gauge",
                             "pmx_daemon_requests_total counter", "pmx_build_info gauge"}) {
    INFO(family);
    CHECK(has_line(text, std::string("# TYPE ") + family));
  }
  CHECK(has_line(text, "pmx_daemon_resident_memory_bytes 4194304"));
  CHECK(has_line(text, "pmx_daemon_open_fds 12"));
  CHECK(has_line(text, "pmx_daemon_requests_total 7"));
  CHECK(has_line(text, "pmx_build_info{version=\"0.1.0\",commit=\"abc\"} 1"));
  CHECK(text.back() == '\n');
}

TEST_CASE("each instance has its status set, restarts, CPU seconds, memory and start time", "[prometheus]") {
  ExpositionRig rig;
  Instance& web = rig.add(0, "web", "shop", 4000);
  web.usage.rss_bytes = 5u << 20;
  web.usage.cpu_ticks = 250;  // 2.5 s at 100 ticks a second
  web.started_at_ms = 1'700'000'000'500;
  rig.add(1, "idle", "default", 0);
  const std::string text = rig.text();
  const std::string web_labels = "app=\"web\",id=\"0\",namespace=\"shop\"";
  CHECK(has_line(text, "pmx_instance_status{" + web_labels + ",status=\"online\"} 1"));
  CHECK(has_line(text, "pmx_instance_status{" + web_labels + ",status=\"stopped\"} 0"));
  CHECK(has_line(text, "pmx_instance_status{" + web_labels + ",status=\"waiting restart\"} 0"));
  CHECK(has_line(text, "pmx_instance_status{app=\"idle\",id=\"1\",namespace=\"default\",status=\"stopped\"} 1"));
  CHECK(has_line(text, "pmx_instance_restarts_total{" + web_labels + "} 0"));
  CHECK(has_line(text, "pmx_instance_cpu_seconds_total{" + web_labels + "} 2.5"));
  CHECK(has_line(text, "pmx_instance_memory_bytes{" + web_labels + "} 5242880"));
  CHECK(has_line(text, "pmx_instance_start_time_seconds{" + web_labels + "} 1700000000.5"));
  CHECK(has_line(text, "pmx_instance_memory_bytes{app=\"idle\",id=\"1\",namespace=\"default\"} 0"));
}

TEST_CASE("Node and @pm2/io series appear for the instances that report them, numeric values only", "[prometheus]") {
  ExpositionRig rig;
  Instance& node = rig.add(0, "api", "default", 4000);
  node.metrics.runtime = RuntimeMetrics{};
  node.metrics.runtime->heap_used_bytes = 1000;
  node.metrics.runtime->heap_total_bytes = 2000;
  node.metrics.runtime->active_handles = 3;
  node.metrics.runtime->loop_p50_ms = 1.5;
  node.metrics.runtime->loop_p99_ms = 300;
  std::uint64_t dropped = 0;
  node.metrics.custom = *read_axm_monitor(json::parse(R"({"Realtime users": {"value": 42}, "ratio": {"value": "0.25"},
      "up": {"value": true}, "label": {"value": "blue"}})"), dropped);
  rig.add(1, "plain", "default", 4001);
  const std::string text = rig.text();
  const std::string labels = "app=\"api\",id=\"0\",namespace=\"default\"";
  CHECK(has_line(text, "pmx_nodejs_heap_used_bytes{" + labels + "} 1000"));
  CHECK(has_line(text, "pmx_nodejs_heap_total_bytes{" + labels + "} 2000"));
  CHECK(has_line(text, "pmx_nodejs_active_handles{" + labels + "} 3"));
  CHECK(has_line(text, "pmx_nodejs_eventloop_delay_seconds{" + labels + ",quantile=\"0.5\"} 0.0015"));
  CHECK(has_line(text, "pmx_nodejs_eventloop_delay_seconds{" + labels + ",quantile=\"0.99\"} 0.3"));
  CHECK(text.find("quantile=\"0.95\"") == std::string::npos);  // not reported: no series
  CHECK(has_line(text, "pmx_app_metric{" + labels + ",metric=\"Realtime users\"} 42"));
  CHECK(has_line(text, "pmx_app_metric{" + labels + ",metric=\"ratio\"} 0.25"));
  CHECK(has_line(text, "pmx_app_metric{" + labels + ",metric=\"up\"} 1"));
  CHECK(text.find("metric=\"label\"") == std::string::npos);
  CHECK(text.find("pmx_nodejs_heap_used_bytes{app=\"plain\"") == std::string::npos);
  // A stopped instance's last report is not a current series.
  node.run.pid = 0;
  CHECK(rig.text().find("pmx_nodejs_heap_used_bytes{") == std::string::npos);
}

TEST_CASE("label values are escaped: backslash, double quote and newline", "[prometheus]") {
  CHECK(prometheus_label("plain") == "plain");
  CHECK(prometheus_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  ExpositionRig rig;
  Instance& in = rig.add(0, "x", "default", 4000);
  std::uint64_t dropped = 0;
  in.metrics.custom = *read_axm_monitor(json::parse(R"({"we\"ird\\name\n": {"value": 1}})"), dropped);
  CHECK(has_line(rig.text(), "pmx_app_metric{app=\"x\",id=\"0\",namespace=\"default\",metric=\"we\\\"ird\\\\name\\n\"} 1"));
}

TEST_CASE("health series appear only for apps with a health check: healthy 1/0 and the state set", "[prometheus]") {
  ExpositionRig rig;
  Instance& api = rig.add(0, "api", "default", 4000);
  api.spec.health_check = *config::health_check_from_json(json("http://127.0.0.1:3000/health"));
  api.health.health = Health::Healthy;
  Instance& worker = rig.add(1, "worker", "default", 4001);
  worker.spec.health_check = *config::health_check_from_json(json("tcp://127.0.0.1:3001"));
  worker.health.health = Health::Unhealthy;
  Instance& fresh = rig.add(2, "fresh", "default", 4002);
  fresh.spec.health_check = *config::health_check_from_json(json("tcp://127.0.0.1:3002"));
  rig.add(3, "plain", "default", 4003);
  const std::string text = rig.text();
  CHECK(has_line(text, "# TYPE pmx_instance_healthy gauge"));
  CHECK(has_line(text, "# TYPE pmx_instance_health_state gauge"));
  CHECK(has_line(text, "pmx_instance_healthy{app=\"api\",id=\"0\",namespace=\"default\"} 1"));
  CHECK(has_line(text, "pmx_instance_healthy{app=\"worker\",id=\"1\",namespace=\"default\"} 0"));
  CHECK(has_line(text, "pmx_instance_healthy{app=\"fresh\",id=\"2\",namespace=\"default\"} 0"));
  CHECK(has_line(text, "pmx_instance_health_state{app=\"api\",id=\"0\",namespace=\"default\",state=\"healthy\"} 1"));
  CHECK(has_line(text, "pmx_instance_health_state{app=\"api\",id=\"0\",namespace=\"default\",state=\"unhealthy\"} 0"));
  CHECK(has_line(text, "pmx_instance_health_state{app=\"worker\",id=\"1\",namespace=\"default\",state=\"unhealthy\"} 1"));
  CHECK(has_line(text, "pmx_instance_health_state{app=\"fresh\",id=\"2\",namespace=\"default\",state=\"starting\"} 1"));
  CHECK(text.find("app=\"plain\",id=\"3\",namespace=\"default\"} 0\npmx_instance_health") == std::string::npos);
  CHECK(text.find("pmx_instance_healthy{app=\"plain\"") == std::string::npos);
  CHECK(text.find("pmx_instance_health_state{app=\"plain\"") == std::string::npos);
}

TEST_CASE("limit series appear for the runs whose limits count something", "[prometheus]") {
  ExpositionRig rig;
  Instance& capped = rig.add(0, "capped", "default", 4000);
  capped.limit_usage = LimitUsage{2'500'000, 1, 7};
  rig.add(1, "free", "default", 4001);
  const std::string text = rig.text();
  const std::string labels = "app=\"capped\",id=\"0\",namespace=\"default\"";
  CHECK(has_line(text, "pmx_instance_cpu_throttled_seconds_total{" + labels + "} 2.5"));
  CHECK(has_line(text, "pmx_instance_oom_kills_total{" + labels + "} 1"));
  CHECK(has_line(text, "pmx_instance_tasks{" + labels + "} 7"));
  CHECK(text.find("pmx_instance_tasks{app=\"free\"") == std::string::npos);
}
