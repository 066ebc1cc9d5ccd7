// Tests of daemon/process/credentials_cache.hpp: uid/gid lookups run on the worker, the loop
// never waits for one, and an answer that is getting old is used while a new one is looked up.
#include "daemon/process/credentials_cache.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

namespace pmx::daemon {
namespace {

using namespace std::chrono_literals;

/// A resolver that waits until the test lets it answer: a lookup stuck on LDAP, as far as the
/// loop can tell.
struct StuckResolver {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};

  CredentialsCache::Resolver resolver() {
    return [this](const std::string& user, const std::string&) -> Result<Credentials> {
      ++calls;
      released.wait();
      if (user == "ghost") return Error{"option 'uid': no user named 'ghost'"};
      Credentials c;
      c.uid = static_cast<uid_t>(1000 + calls.load());
      c.gid = 1000;
      return c;
    };
  }
};

/// Runs io's handlers until pred holds or a second passes.
bool run_io_until(boost::asio::io_context& io, const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("credentials: a lookup stuck in NSS never holds the loop, its answer comes later",
          "[credentials][regression]") {
  boost::asio::io_context io;
  StuckResolver stuck;
  CredentialsCache cache(io, stuck.resolver());
  const auto asked = std::chrono::steady_clock::now();
  CHECK_FALSE(cache.get("app", "").has_value());  // not known yet: queued, not looked up here
  bool started = false;
  cache.resolve("app", "", [&] { started = true; });
  CHECK(std::chrono::steady_clock::now() - asked < 100ms);
  io.restart();
  io.run_for(20ms);  // the loop turns while the lookup is stuck
  CHECK_FALSE(started);
  stuck.release.set_value();
  REQUIRE(run_io_until(io, [&] { return started; }));
  auto known = cache.get("app", "");
  REQUIRE(known);
  REQUIRE(*known);
  CHECK((*known)->uid.has_value());
  CHECK(stuck.calls == 1);  // the get() and resolve() of one key made one lookup
}

TEST_CASE("credentials: an unknown user is an answer too, kept like the others", "[credentials]") {
  boost::asio::io_context io;
  StuckResolver stuck;
  stuck.release.set_value();
  CredentialsCache cache(io, stuck.resolver());
  bool done = false;
  CHECK_FALSE(cache.known_or_resolve({{"ghost", ""}, {"app", "staff"}, {"", ""}}, [&] { done = true; }));
  REQUIRE(run_io_until(io, [&] { return done; }));
  auto ghost = cache.get("ghost", "");
  REQUIRE(ghost);
  CHECK_FALSE(*ghost);
  CHECK(ghost->error() == "option 'uid': no user named 'ghost'");
  CHECK(cache.known_or_resolve({{"ghost", ""}, {"app", "staff"}}, [] { FAIL("not called when all are known"); }));
}

TEST_CASE("credentials: an old answer is used while a new one is looked up behind it", "[credentials]") {
  boost::asio::io_context io;
  StuckResolver stuck;
  stuck.release.set_value();
  CredentialsCache cache(io, stuck.resolver(), std::chrono::steady_clock::duration::zero());
  bool first = false;
  cache.resolve("app", "", [&] { first = true; });
  REQUIRE(run_io_until(io, [&] { return first; }));
  const auto old_uid = (*cache.get("app", ""))->uid;  // old at once: refreshed behind it
  REQUIRE(run_io_until(io, [&] { return cache.lookups() == 2; }));
  const auto new_uid = (*cache.get("app", ""))->uid;
  CHECK(old_uid != new_uid);
}

TEST_CASE("credentials: a cache destroyed with a lookup in flight calls nothing", "[credentials]") {
  boost::asio::io_context io;
  StuckResolver stuck;
  bool called = false;
  {
    CredentialsCache cache(io, stuck.resolver());
    cache.resolve("app", "", [&] { called = true; });
    stuck.release.set_value();
  }
  io.restart();
  io.run_for(20ms);
  CHECK_FALSE(called);
}

}  // namespace pmx::daemon
