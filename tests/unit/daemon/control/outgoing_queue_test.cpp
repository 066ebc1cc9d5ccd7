// Tests of daemon/control/outgoing_queue.hpp: the byte bounds of one client's replies and notifications.
#include "daemon/control/outgoing_queue.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

namespace pmx::daemon {
namespace {

using Push = OutgoingQueue::Push;

std::shared_ptr<const std::string> bytes(std::size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}

constexpr QueueLimits kLimits{/*pause_reading=*/100, /*close=*/1000, /*notifications=*/50};

}  // namespace

TEST_CASE("one reply of any size is accepted by an empty queue", "[queue]") {
  OutgoingQueue q(kLimits);
  CHECK(q.push_reply(bytes(5000), nullptr) == Push::queued);
  CHECK(q.bytes() == 5000);
  CHECK(q.over_pause_limit());
  // A second one past the hard limit is refused: the client is closed.
  CHECK(q.push_reply(bytes(10), nullptr) == Push::overflow);
  CHECK(q.bytes() == 5000);
}

TEST_CASE("replies pause reading above the soft limit and resume when drained",
          "[queue]") {
  OutgoingQueue q(kLimits);
  for (int i = 0; i < 11; ++i) REQUIRE(q.push_reply(bytes(10), nullptr) == Push::queued);
  CHECK(q.over_pause_limit());
  CHECK_FALSE(q.drained());
  while (q.bytes() > 50) q.pop_front();
  CHECK_FALSE(q.over_pause_limit());
  CHECK(q.drained());
}

TEST_CASE("a reply that would pass the hard limit overflows and keeps its callback",
          "[queue]") {
  OutgoingQueue q(kLimits);
  REQUIRE(q.push_reply(bytes(900), nullptr) == Push::queued);
  bool ran = false;
  std::function<void()> after = [&] { ran = true; };
  CHECK(q.push_reply(bytes(200), std::move(after)) == Push::overflow);
  REQUIRE(after);  // left to the caller, who runs it when it closes the client
  after();
  CHECK(ran);
  CHECK(q.push_reply(bytes(100), nullptr) == Push::queued);
  CHECK(q.bytes() == 1000);
}

TEST_CASE("notifications past their limit are dropped, counted and reported once",
          "[queue]") {
  OutgoingQueue q(kLimits);
  CHECK(q.push_notification(bytes(30)) == Push::queued);
  CHECK(q.push_notification(bytes(30)) == Push::dropped);
  // After a drop, even a small one waits for the report, so the gap stays where it was.
  CHECK(q.push_notification(bytes(1)) == Push::dropped);
  CHECK(q.dropped_total() == 2);
  CHECK_FALSE(q.take_drop_report());  // 30 bytes queued: more than half the limit
  q.pop_front();
  auto report = q.take_drop_report();
  REQUIRE(report);
  CHECK(*report == 2);
  CHECK_FALSE(q.take_drop_report());
  CHECK(q.push_notification(bytes(30)) == Push::queued);
  CHECK(q.dropped_total() == 2);
}

TEST_CASE("dropped notifications never close the client and replies still fit",
          "[queue]") {
  OutgoingQueue q(kLimits);
  REQUIRE(q.push_reply(bytes(60), nullptr) == Push::queued);
  for (int i = 0; i < 1000; ++i) CHECK(q.push_notification(bytes(10)) == Push::dropped);
  CHECK(q.dropped_total() == 1000);
  CHECK(q.push_reply(bytes(10), nullptr) == Push::queued);
}

TEST_CASE("clear hands back every message for its callback", "[queue]") {
  OutgoingQueue q(kLimits);
  int ran = 0;
  REQUIRE(q.push_reply(bytes(1), [&] { ++ran; }) == Push::queued);
  REQUIRE(q.push_reply(bytes(1), [&] { ++ran; }) == Push::queued);
  for (auto& m : q.clear()) m.after();
  CHECK(ran == 2);
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
}

}  // namespace pmx::daemon

namespace pmx::daemon {

TEST_CASE("dropped log notifications are reported as the lines they carried", "[logs][queue]") {
  OutgoingQueue q(kLimits);
  CHECK(q.push_notification(bytes(40), 3) == Push::queued);
  CHECK(q.push_notification(bytes(40), 7) == Push::dropped);
  CHECK(q.push_notification(bytes(1), 2) == Push::dropped);
  CHECK(q.push_notification(bytes(1)) == Push::dropped);  // not a log line
  CHECK_FALSE(q.take_drop_report());  // the queue is still over half its notification limit
  q.pop_front();
  auto report = q.take_drop_report();
  REQUIRE(report);
  CHECK(*report == 3);
  CHECK(q.reported_lines() == 9);
  CHECK(q.dropped_lines_total() == 9);
}

}  // namespace pmx::daemon

namespace pmx::daemon {

TEST_CASE("while a reply is streamed, other replies and notifications wait behind its parts", "[queue]") {
  OutgoingQueue q(kLimits);
  q.hold();
  q.push_part(std::make_shared<const std::string>("part1"), nullptr);
  CHECK(q.push_notification(bytes(10)) == Push::queued);
  CHECK(q.push_reply(std::make_shared<const std::string>("other"), nullptr) == Push::queued);
  q.push_part(std::make_shared<const std::string>("part2"), nullptr);
  CHECK(q.bytes() == 25);
  CHECK(*q.pop_front().bytes == "part1");
  CHECK(*q.pop_front().bytes == "part2");
  CHECK(q.empty());  // the rest is held, not writable yet
  q.release();
  CHECK(q.pop_front().bytes->size() == 10);
  CHECK(*q.pop_front().bytes == "other");
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
}

TEST_CASE("notifications held behind a stream are bounded, and dropped ones counted", "[queue]") {
  OutgoingQueue q(kLimits);
  q.hold();
  q.push_part(bytes(20), nullptr);
  CHECK(q.push_notification(bytes(20), 3) == Push::queued);
  CHECK(q.push_notification(bytes(20), 4) == Push::dropped);
  CHECK(q.dropped_total() == 1);
  CHECK(q.dropped_lines_total() == 4);
  // A client that leaves gets every held `after` run too.
  bool ran = false;
  CHECK(q.push_reply(bytes(5), [&] { ran = true; }) == Push::queued);
  auto all = q.clear();
  CHECK(all.size() == 3);
  for (auto& m : all)
    if (m.after) m.after();
  CHECK(ran);
  CHECK_FALSE(q.holding());
}

}  // namespace pmx::daemon
