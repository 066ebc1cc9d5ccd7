// EnvPool: caller environments shared by content. Every `pmx start` sends the caller's whole
// environment (3–5 KB from a login shell), which its instances keep for their restarts; 100
// apps started by 100 calls from one shell hold one copy of it instead of 100.
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>

#include "config/app_spec.hpp"

namespace pmx::daemon {

class EnvPool {
 public:
  /// The pool's environment equal to env, or env itself, now in the pool. The pool holds no
  /// environment alive: one is forgotten once no instance holds it.
  std::shared_ptr<const config::Env> intern(config::Env env);
  /// The environments in the pool still held by someone (for tests).
  std::size_t live() const;
  /// The pool's entries, expired ones included (for tests: at most about twice live()).
  std::size_t entries() const { return entries_.size(); }

 private:
  std::unordered_multimap<std::size_t, std::weak_ptr<const config::Env>> entries_;
  std::size_t swept_size_ = 0;  ///< entries_.size() after the last sweep of the expired
};

}  // namespace pmx::daemon
