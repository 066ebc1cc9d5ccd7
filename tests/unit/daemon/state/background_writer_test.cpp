// Tests of daemon/state/background_writer.hpp: a write stuck on the disk never holds the loop,
// jobs run in order, and what they hand back runs on the loop.
#include "daemon/state/background_writer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace pmx::daemon {
namespace {

using namespace std::chrono_literals;

/// Runs io's handlers until pred holds or five seconds pass.
bool turn_loop_until(boost::asio::io_context& io, const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("background writer: a write stuck on a slow disk leaves the loop serving, its answer comes after",
          "[state][regression]") {
  boost::asio::io_context io;
  std::promise<void> disk;
  auto disk_done = disk.get_future().share();
  BackgroundWriter writer(io);
  const auto loop_thread = std::this_thread::get_id();
  bool answered = false;
  std::thread::id answered_on;
  const auto queued = std::chrono::steady_clock::now();
  writer.run([disk_done, &answered, &answered_on]() -> BackgroundWriter::Then {
    disk_done.wait();  // an fsync that takes its time
    return [&answered, &answered_on] {
      answered = true;
      answered_on = std::this_thread::get_id();
    };
  });
  CHECK(std::chrono::steady_clock::now() - queued < 100ms);
  // Meanwhile the loop runs other work.
  bool other = false;
  boost::asio::post(io, [&] { other = true; });
  REQUIRE(turn_loop_until(io, [&] { return other; }));
  CHECK_FALSE(answered);
  disk.set_value();
  REQUIRE(turn_loop_until(io, [&] { return answered; }));
  CHECK(answered_on == loop_thread);
}

TEST_CASE("background writer: jobs run one at a time in the order given", "[state]") {
  boost::asio::io_context io;
  BackgroundWriter writer(io);
  std::vector<int> written;  // touched by the worker only, read after the last answer
  std::vector<int> answers;
  for (int i = 0; i < 20; ++i) {
    writer.run([i, &written, &answers]() -> BackgroundWriter::Then {
      written.push_back(i);
      return [i, &answers] { answers.push_back(i); };
    });
  }
  REQUIRE(turn_loop_until(io, [&] { return answers.size() == 20; }));
  for (int i = 0; i < 20; ++i) {
    CHECK(written[i] == i);
    CHECK(answers[i] == i);
  }
}

TEST_CASE("background writer: a job queued when it is destroyed is still written, its answer dropped",
          "[state]") {
  boost::asio::io_context io;
  bool wrote = false;
  bool answered = false;
  {
    BackgroundWriter writer(io);
    writer.run([&wrote, &answered]() -> BackgroundWriter::Then {
      wrote = true;
      return [&answered] { answered = true; };
    });
  }
  CHECK(wrote);
  io.restart();
  io.run_for(20ms);
  CHECK_FALSE(answered);
}

}  // namespace pmx::daemon
