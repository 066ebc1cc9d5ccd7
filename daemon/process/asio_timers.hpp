// AsioTimers: the daemon's Timers: one steady_timer per armed callback on pmxd's loop, the
// steady and the system clocks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>

#include "daemon/process/timers.hpp"

namespace pmx::daemon {

class AsioTimers final : public Timers {
 public:
  explicit AsioTimers(boost::asio::io_context& io) : io_(io) {}
  AsioTimers(const AsioTimers&) = delete;
  AsioTimers& operator=(const AsioTimers&) = delete;

  TimePoint now() const override { return Clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  Key arm(TimePoint at, Callback cb) override;
  void cancel(Key key) override;
  bool pending(Key key) const override;

 private:
  struct Armed {
    explicit Armed(boost::asio::io_context& io, Callback c) : timer(io), cb(std::move(c)) {}
    boost::asio::steady_timer timer;
    Callback cb;
  };
  using Table = std::map<Key, std::unique_ptr<Armed>>;

  boost::asio::io_context& io_;
  Key next_ = 1;
  /// What is armed. A handler finds its callback here by key: one cancelled (erased) is not
  /// found, even when Asio had already queued the handler. Shared so that a handler run after
  /// this object is gone finds nothing.
  std::shared_ptr<Table> armed_ = std::make_shared<Table>();
};

}  // namespace pmx::daemon
