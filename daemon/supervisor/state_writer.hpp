// StateWriter: state.json kept up to date with the registry. Changes made by one handler make
// one write (soon); a write that fails (a full or read-only PMX_HOME) is tried again every
// kRetry until it succeeds, logged once per episode; a clean exit removes the file and writes
// no more. The writes are atomic, not durable: no fsync stalls the loop.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <system_error>

#include "daemon/supervisor/registry.hpp"

namespace pmx::daemon {

class StateWriter {
 public:
  /// Writes text as the file at path, atomically (write_file_atomic, not durable); a fake in tests.
  using Write = std::function<std::error_code(const std::string& path, const std::string& text)>;
  /// How often a state file that could not be written is tried again.
  static constexpr std::chrono::milliseconds kRetry{500};

  /// registry must outlive the writer.
  StateWriter(boost::asio::io_context& io, std::string path, const Registry& registry, Write write = {});
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  /// Writes the file at the loop's next turn (once, however many calls until then).
  void soon();
  /// Writes the file now; on failure it is written again every kRetry until it is. The
  /// instances of starting, registered and about to be started, are recorded launching: a pmxd
  /// killed before their spawn has its successor start them.
  std::error_code now(const std::set<int>& starting = {});
  /// Removes the file and writes no more (a clean exit leaves nothing to adopt).
  void forget();

  const std::string& path() const { return path_; }
  /// Whether the last write failed.
  bool lagging() const { return lagging_; }

 private:
  /// The write failed (ec): logged once per episode, tried again later.
  void retry(std::error_code ec);

  boost::asio::io_context& io_;
  std::string path_;
  const Registry& registry_;
  Write write_;
  bool pending_ = false;
  bool forgotten_ = false;
  bool lagging_ = false;
};

}  // namespace pmx::daemon
