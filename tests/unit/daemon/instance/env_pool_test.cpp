// Tests of daemon/instance/env_pool.hpp: equal environments share one copy, held weakly.
#include "daemon/instance/env_pool.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace pmx::daemon {

TEST_CASE("EnvPool gives equal environments one copy and forgets those no one holds", "[env_pool]") {
  EnvPool pool;
  const config::Env shell{{"HOME", "/root"}, {"PATH", "/usr/bin:/bin"}};
  auto a = pool.intern(shell);
  auto b = pool.intern(shell);
  CHECK(a == b);
  auto other = pool.intern({{"HOME", "/root"}, {"PATH", "/bin"}});
  CHECK(other != a);
  CHECK(*other != *a);
  CHECK(pool.intern({}) == pool.intern({}));
  CHECK(pool.live() == 2);  // the empty ones were dropped at the end of their statements
  b.reset();
  CHECK(pool.live() == 2);
  a.reset();
  CHECK(pool.live() == 1);
  // A new copy once the last holder let go; the pool itself never keeps one alive.
  auto again = pool.intern(shell);
  CHECK(again.use_count() == 1);
  // Many environments come and go: the pool's expired entries are swept, it does not grow.
  for (int i = 0; i < 1000; ++i) pool.intern({{"N", std::to_string(i)}});
  CHECK(pool.live() == 2);
  CHECK(pool.entries() <= 40);
  std::vector<std::shared_ptr<const config::Env>> held;
  for (int i = 0; i < 100; ++i) held.push_back(pool.intern({{"N", std::to_string(i)}}));
  CHECK(pool.live() == 102);
  CHECK(pool.intern({{"N", "7"}}) == held[7]);
}

}  // namespace pmx::daemon
