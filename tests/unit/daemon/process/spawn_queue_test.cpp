// SpawnQueue: at most limit spawns in flight, the rest wait in order, a cancelled one never runs.
#include <catch2/catch.hpp>

#include <vector>

#include "daemon/process/spawn_queue.hpp"

using pmx::daemon::SpawnQueue;

namespace {

/// A caller of the queue as the supervisor is one: asks for a turn, forks when admitted (pids
/// from 100 on), and, when it waited, forks again from its retry.
struct QueueCaller {
  SpawnQueue queue;
  std::vector<int> started;  ///< keys in the order they forked
  std::vector<pid_t> pids;
  pid_t next_pid = 100;

  explicit QueueCaller(std::size_t limit) : queue(limit) {}

  void spawn(int key) {
    if (!queue.admit(key, [this, key] { spawn(key); })) return;
    started.push_back(key);
    pids.push_back(next_pid);
    queue.forked(next_pid++);
  }
};

}  // namespace

TEST_CASE("spawns beyond the limit wait and start in order as execs are reported", "[spawn_queue]") {
  QueueCaller c(3);
  for (int key = 0; key < 10; ++key) c.spawn(key);
  CHECK(c.started == std::vector<int>{0, 1, 2});
  CHECK(c.queue.in_flight() == 3);
  CHECK(c.queue.waiting_count() == 7);

  c.queue.reported(c.pids[1]);
  CHECK(c.started == std::vector<int>{0, 1, 2, 3});
  CHECK(c.queue.in_flight() == 3);
  // The rest, one report at a time: never more than 3 in flight.
  for (std::size_t i = 0; i < c.pids.size(); ++i) {
    if (i == 1) continue;
    c.queue.reported(c.pids[i]);
    CHECK(c.queue.in_flight() <= 3);
  }
  CHECK(c.started == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(c.queue.peak_in_flight() == 3);
  CHECK(c.queue.waiting_count() == 0);
}

TEST_CASE("a new spawn waits behind the queue even when a slot is free", "[spawn_queue]") {
  SpawnQueue q(1);
  int retried = 0;
  REQUIRE(q.admit(1, [] {}));
  q.forked(10);
  CHECK_FALSE(q.admit(2, [&] { ++retried; }));
  // Key 2's retry does not fork: the slot stays free, and key 3 must not pass it in the queue.
  CHECK_FALSE(q.admit(3, [&] { ++retried; }));
  q.reported(10);
  CHECK(retried == 2);  // both had their turn (neither forked), in order
  CHECK(q.waiting_count() == 0);
}

TEST_CASE("a cancelled spawn never runs and frees its place", "[spawn_queue]") {
  QueueCaller c(1);
  c.spawn(1);
  c.spawn(2);
  c.spawn(3);
  CHECK(c.queue.waiting(2));
  CHECK(c.queue.cancel(2));
  CHECK_FALSE(c.queue.cancel(2));
  CHECK_FALSE(c.queue.waiting(2));
  c.queue.reported(c.pids[0]);
  CHECK(c.started == std::vector<int>{1, 3});
}

TEST_CASE("a key asking twice keeps its place and runs once", "[spawn_queue]") {
  QueueCaller c(1);
  c.spawn(1);
  c.spawn(2);
  c.spawn(3);
  c.spawn(2);
  CHECK(c.queue.waiting_count() == 2);
  c.queue.reported(c.pids[0]);
  CHECK(c.started == std::vector<int>{1, 2});
}

TEST_CASE("a report of a pid not in flight changes nothing", "[spawn_queue]") {
  QueueCaller c(1);
  c.spawn(1);
  c.spawn(2);
  c.queue.reported(999);
  CHECK(c.started == std::vector<int>{1});
  c.queue.reported(c.pids[0]);
  c.queue.reported(c.pids[0]);  // twice: the second is ignored
  CHECK(c.started == std::vector<int>{1, 2});
  CHECK(c.queue.in_flight() == 1);
}

TEST_CASE("an exec reported before its retry returns does not run a spawn twice", "[spawn_queue]") {
  // The report comes back from inside the retry (a failure known at once): the queue goes on
  // from its outer loop, each waiting key runs once.
  SpawnQueue q(1);
  std::vector<int> started;
  std::function<void(int)> spawn = [&](int key) {
    if (!q.admit(key, [&, key] { spawn(key); })) return;
    started.push_back(key);
    const pid_t pid = 100 + key;
    q.forked(pid);
    if (key != 1) q.reported(pid);  // known at once
  };
  spawn(1);
  spawn(2);
  spawn(3);
  q.reported(101);
  CHECK(started == std::vector<int>{1, 2, 3});
  CHECK(q.in_flight() == 0);
}

TEST_CASE("a limit of 0 is taken as 1", "[spawn_queue]") {
  SpawnQueue q(0);
  CHECK(q.limit() == 1);
  CHECK(SpawnQueue::default_limit() >= 8);
}
