// Timers and Deadline: a cancelled, re-armed or destroyed deadline never runs its callback, on
// Asio's timers (even once its handler is queued) and on the tests' fake clock, which fires
// what falls due in time order, each at its own time, and always ends an advance: a callback
// re-armed for the instant it fired at waits for the next one.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/process/asio_timers.hpp"
#include "daemon/process/timers.hpp"
#include "tests/unit/daemon/process/fake_timers.hpp"

using namespace pmx::daemon;
using pmx::daemon::testing::FakeTimers;

TEST_CASE("a deadline cancelled after its handler was queued never runs", "[timers]") {
  boost::asio::io_context io{1};
  AsioTimers timers(io);
  std::vector<std::string> ran;
  Deadline first;
  Deadline second;
  // Both are past due: one poll takes both handlers off the timer queue; the first one's
  // callback cancels the second, whose handler is already on its way.
  const TimePoint past = timers.now() - Millis(10);
  first.arm_at(timers, past, [&] {
    ran.push_back("first");
    second.cancel();
  });
  second.arm_at(timers, past, [&] { ran.push_back("second"); });
  io.poll();
  io.restart();
  io.poll();
  CHECK(ran == std::vector<std::string>{"first"});
  CHECK_FALSE(second.armed());
}

TEST_CASE("a re-armed deadline runs its last callback only, once", "[timers]") {
  boost::asio::io_context io{1};
  AsioTimers timers(io);
  std::vector<std::string> ran;
  Deadline d;
  d.arm_at(timers, timers.now() - Millis(1), [&] { ran.push_back("replaced"); });
  d.arm_at(timers, timers.now() - Millis(1), [&] { ran.push_back("last"); });
  CHECK(d.armed());
  io.poll();
  CHECK(ran == std::vector<std::string>{"last"});
  CHECK_FALSE(d.armed());
}

TEST_CASE("a destroyed deadline never runs, and a moved one runs once from its new owner", "[timers]") {
  boost::asio::io_context io{1};
  AsioTimers timers(io);
  int gone = 0;
  int moved = 0;
  {
    Deadline d;
    d.arm_at(timers, timers.now() - Millis(1), [&] { ++gone; });
  }
  Deadline from;
  from.arm_at(timers, timers.now() - Millis(1), [&] { ++moved; });
  Deadline to = std::move(from);
  CHECK_FALSE(from.armed());
  CHECK(to.armed());
  io.poll();
  CHECK(gone == 0);
  CHECK(moved == 1);
}

TEST_CASE("a callback may arm its own deadline again", "[timers]") {
  boost::asio::io_context io{1};
  AsioTimers timers(io);
  int runs = 0;
  Deadline d;
  std::function<void()> tick = [&] {
    if (++runs < 3) d.arm_at(timers, timers.now() - Millis(1), tick);
  };
  d.arm_at(timers, timers.now() - Millis(1), tick);
  for (int i = 0; i < 5; ++i) {
    io.restart();
    io.poll();
  }
  CHECK(runs == 3);
  CHECK_FALSE(d.armed());
}

TEST_CASE("handlers left queued when the timers are gone run nothing", "[timers]") {
  boost::asio::io_context io{1};
  int ran = 0;
  {
    AsioTimers timers(io);
    timers.arm(timers.now() - Millis(1), [&] { ++ran; });
    timers.cancel(12345);  // a key never given is ignored
  }
  io.poll();
  CHECK(ran == 0);
}

TEST_CASE("fake timers fire what falls due, in time order, each at its own time, not before", "[timers]") {
  const TimePoint start = Clock::now();
  FakeTimers timers(start);
  std::vector<std::pair<std::string, Millis>> ran;
  auto at_ms = [&] { return std::chrono::duration_cast<Millis>(timers.now() - start); };
  Deadline late;
  Deadline early;
  Deadline cancelled;
  late.arm_after(timers, Millis(300), [&] { ran.emplace_back("late", at_ms()); });
  early.arm_after(timers, Millis(100), [&] {
    ran.emplace_back("early", at_ms());
    cancelled.cancel();
  });
  cancelled.arm_after(timers, Millis(100), [&] { ran.emplace_back("cancelled", at_ms()); });
  timers.advance(Millis(99));
  CHECK(ran.empty());
  timers.advance(Millis(201));
  CHECK(ran == std::vector<std::pair<std::string, Millis>>{{"early", Millis(100)}, {"late", Millis(300)}});
  CHECK(timers.now() == start + Millis(300));
  CHECK(timers.armed_count() == 0);
}

TEST_CASE("fake timers run a deadline armed on the way at its own time when it falls due by the target",
          "[timers]") {
  const TimePoint start = Clock::now();
  FakeTimers timers(start);
  std::vector<Millis> ran;
  auto at_ms = [&] { return std::chrono::duration_cast<Millis>(timers.now() - start); };
  Deadline d;
  std::function<void()> tick = [&] {
    ran.push_back(at_ms());
    d.arm_after(timers, Millis(150), tick);
  };
  d.arm_after(timers, Millis(100), tick);
  timers.advance(Millis(400));
  CHECK(ran == std::vector<Millis>{Millis(100), Millis(250), Millis(400)});
  CHECK(d.at() == start + Millis(550));
}

TEST_CASE("fake timers: a deadline that re-arms itself for the instant it fired at runs once per advance, not forever",
          "[timers][regression]") {
  const TimePoint start = Clock::now();
  FakeTimers timers(start);
  int runs = 0;
  Deadline d;
  // At most 1000 runs: a fake clock that ran the re-armed callback again within the same
  // advance would otherwise never return, and this test would hang instead of failing.
  std::function<void()> again = [&] {
    if (++runs < 1000) d.arm_at(timers, timers.now(), again);
  };
  d.arm_after(timers, Millis(10), again);
  timers.advance(Millis(100));
  CHECK(runs == 1);
  CHECK(timers.now() == start + Millis(100));
  REQUIRE(d.armed());
  CHECK(d.at() == start + Millis(10));  // due since, run by the next advance at the clock's time
  timers.advance(Millis(0));
  CHECK(runs == 2);
  timers.advance(Millis(0));
  CHECK(runs == 3);

  // The same for a time already past when armed, as a cron deadline that fired early and
  // re-arms for its schedule's time; another deadline due on the way still runs at its time.
  int past = 0;
  Deadline behind;
  std::function<void()> again_past = [&] {
    if (++past < 1000) behind.arm_at(timers, timers.now() - Millis(5), again_past);
  };
  behind.arm_at(timers, timers.now() - Millis(1), again_past);
  Deadline later;
  Millis later_at{0};
  later.arm_after(timers, Millis(20), [&] { later_at = std::chrono::duration_cast<Millis>(timers.now() - start); });
  timers.advance(Millis(50));
  CHECK(past == 1);
  CHECK(later_at == Millis(120));
  CHECK(runs == 4);
}
