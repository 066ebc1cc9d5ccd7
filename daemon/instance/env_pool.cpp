// EnvPool: caller environments shared by content (a hash of every key and value, then an
// equality check), held weakly.
#include "daemon/instance/env_pool.hpp"

#include <functional>
#include <string>

namespace pmx::daemon {

namespace {

std::size_t hash_of(const config::Env& env) {
  std::size_t h = env.size();
  const std::hash<std::string> hash;
  for (const auto& [key, value] : env) {
    h ^= hash(key) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= hash(value) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return h;
}

}  // namespace

std::shared_ptr<const config::Env> EnvPool::intern(config::Env env) {
  const std::size_t h = hash_of(env);
  auto [first, last] = entries_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    if (auto held = it->second.lock(); held && *held == env) return held;
  }
  // The expired ones go once the pool has doubled since the last sweep: amortised O(1).
  if (entries_.size() >= 2 * swept_size_ + 16) {
    std::erase_if(entries_, [](const auto& entry) { return entry.second.expired(); });
    swept_size_ = entries_.size();
  }
  auto made = std::make_shared<const config::Env>(std::move(env));
  entries_.emplace(h, made);
  return made;
}

std::size_t EnvPool::live() const {
  std::size_t n = 0;
  for (const auto& [h, weak] : entries_) n += weak.expired() ? 0 : 1;
  return n;
}

}  // namespace pmx::daemon
