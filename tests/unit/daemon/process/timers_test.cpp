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

TEST_CASE("fake timers run a callback armed for now or the past during an advance at once, before later ones",
          "[timers]") {
  // A zero delay (kill_timeout 0, min_uptime 0) and a deadline re-armed for a time already past
  // run on the loop's next turn: here, in the same advance, at the clock's time (the one due
  // earlier first), before what is due later; never held back past a later deadline.
  const TimePoint start = Clock::now();
  FakeTimers timers(start);
  std::vector<std::pair<std::string, Millis>> ran;
  auto at_ms = [&] { return std::chrono::duration_cast<Millis>(timers.now() - start); };
  Deadline zero, past, later;
  later.arm_after(timers, Millis(30), [&] { ran.emplace_back("later", at_ms()); });
  Deadline first;
  first.arm_after(timers, Millis(10), [&] {
    ran.emplace_back("first", at_ms());
    zero.arm_after(timers, Millis(0), [&] { ran.emplace_back("zero", at_ms()); });
    past.arm_at(timers, timers.now() - Millis(5), [&] { ran.emplace_back("past", at_ms()); });
  });
  timers.advance(Millis(100));
  CHECK(ran == std::vector<std::pair<std::string, Millis>>{
                   {"first", Millis(10)}, {"past", Millis(10)}, {"zero", Millis(10)}, {"later", Millis(30)}});
  CHECK(timers.armed_count() == 0);
}

TEST_CASE("fake timers: callbacks that re-arm for the same instant without end fail the advance, not hang it",
          "[timers][regression]") {
  const TimePoint start = Clock::now();
  FakeTimers timers(start);
  int runs = 0;
  Deadline d;
  // Bounded here too, so that a fake clock that neither ran nor refused them would end.
  std::function<void()> again = [&] {
    if (++runs < 100'000) d.arm_at(timers, timers.now(), again);
  };
  d.arm_after(timers, Millis(10), again);
  CHECK_THROWS_AS(timers.advance(Millis(100)), std::logic_error);
  CHECK(runs == static_cast<int>(FakeTimers::kMaxRunsPerInstant));
  CHECK(timers.now() == start + Millis(10));  // it stood still where they kept re-arming
}
