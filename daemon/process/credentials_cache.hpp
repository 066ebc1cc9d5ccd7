// CredentialsCache: the users and groups apps run as (uid/gid options), looked up in the
// password and group databases by a worker thread, never on the daemon's loop: with NSS those
// lookups may go to LDAP or NIS and take seconds. The loop only reads the answers kept here;
// an answer older than the refresh interval is still used while a new lookup runs behind it.
// The worker never touches the daemon's state: each answer is posted to the loop.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/result.hpp"
#include "daemon/process/spawn.hpp"

namespace pmx::daemon {

class CredentialsCache {
 public:
  /// Looks up one (user, group): resolve_credentials, or a fake in tests. Runs on the worker.
  using Resolver = std::function<Result<Credentials>(const std::string& user, const std::string& group)>;
  using Key = std::pair<std::string, std::string>;

  explicit CredentialsCache(boost::asio::io_context& io, Resolver resolver = resolve_credentials,
                            std::chrono::steady_clock::duration refresh = std::chrono::seconds(60));
  /// Stops the worker once the lookup it runs (if any) returns; answers not posted yet are lost.
  ~CredentialsCache();
  CredentialsCache(const CredentialsCache&) = delete;
  CredentialsCache& operator=(const CredentialsCache&) = delete;

  /// The answer kept for (user, group), without waiting: nullopt when there is none yet (a
  /// lookup is queued). An answer older than the refresh interval is returned as it is, and a
  /// new lookup queued to replace it.
  std::optional<Result<Credentials>> get(const std::string& user, const std::string& group);

  /// Calls done on the loop (never from here) once (user, group) has an answer: at the next
  /// turn when it has one, else when the worker's lookup is in.
  void resolve(const std::string& user, const std::string& group, std::function<void()> done);

  /// True when every key has an answer already. Otherwise false, and done is called on the loop
  /// once they all have one (a verb then handles its request again, from the start). Keys with
  /// an empty user and group are skipped.
  bool known_or_resolve(const std::vector<Key>& keys, std::function<void()> done);

  /// Lookups the worker ran, since start (for tests and the log).
  std::size_t lookups() const { return state_->lookups; }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point at;
    Result<Credentials> answer;
  };
  /// What the loop owns; the worker's posts reach it only while the cache lives.
  struct State {
    std::map<Key, Entry> entries;
    std::map<Key, std::vector<std::function<void()>>> waiting;
    std::size_t lookups = 0;
  };
  void queue(const Key& key);
  void run();

  boost::asio::io_context& io_;
  Resolver resolver_;
  std::chrono::steady_clock::duration refresh_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::map<Key, bool> queued_;  ///< keys asked of the worker and not answered yet (loop side)
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Key> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace pmx::daemon
