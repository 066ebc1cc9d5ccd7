// CredentialsCache: a worker thread for the lookups, the answers kept on the loop.
#include "daemon/process/credentials_cache.hpp"

#include <boost/asio/post.hpp>

namespace pmx::daemon {

CredentialsCache::CredentialsCache(boost::asio::io_context& io, Resolver resolver,
                                   std::chrono::steady_clock::duration refresh)
    : io_(io), resolver_(std::move(resolver)), refresh_(refresh) {}

CredentialsCache::~CredentialsCache() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::optional<Result<Credentials>> CredentialsCache::get(const std::string& user, const std::string& group) {
  Key key{user, group};
  auto it = state_->entries.find(key);
  if (it == state_->entries.end()) {
    queue(key);
    return std::nullopt;
  }
  if (std::chrono::steady_clock::now() - it->second.at >= refresh_) queue(key);
  return it->second.answer;
}

void CredentialsCache::resolve(const std::string& user, const std::string& group, std::function<void()> done) {
  Key key{user, group};
  if (state_->entries.count(key)) {
    if (done) {
      boost::asio::post(io_, [alive = std::weak_ptr<State>(state_), done = std::move(done)] {
        if (alive.lock()) done();
      });
    }
    return;
  }
  if (done) state_->waiting[key].push_back(std::move(done));
  queue(key);
}

bool CredentialsCache::known_or_resolve(const std::vector<Key>& keys, std::function<void()> done) {
  std::vector<Key> missing;
  for (const auto& key : keys) {
    if ((key.first.empty() && key.second.empty()) || state_->entries.count(key)) continue;
    missing.push_back(key);
  }
  if (missing.empty()) return true;
  auto left = std::make_shared<std::size_t>(missing.size());
  auto all_in = std::make_shared<std::function<void()>>(std::move(done));
  for (const auto& key : missing) {
    resolve(key.first, key.second, [left, all_in] {
      if (--*left == 0 && *all_in) (*all_in)();
    });
  }
  return false;
}

void CredentialsCache::queue(const Key& key) {
  if (queued_[key]) return;
  queued_[key] = true;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(key);
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
}

void CredentialsCache::run() {
  std::weak_ptr<State> state = state_;
  for (;;) {
    Key key;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      key = jobs_.front();
      jobs_.pop_front();
    }
    Result<Credentials> answer = resolver_(key.first, key.second);
    boost::asio::post(io_, [this, state, key, answer = std::move(answer)]() mutable {
      auto s = state.lock();
      if (!s) return;  // the cache is gone
      ++s->lookups;
      queued_.erase(key);
      s->entries.insert_or_assign(key, Entry{std::chrono::steady_clock::now(), std::move(answer)});
      auto waiting = s->waiting.extract(key);
      if (waiting) {
        for (auto& done : waiting.mapped()) done();
      }
    });
  }
}

}  // namespace pmx::daemon
