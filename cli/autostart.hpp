// Connecting to pmxd, starting it first when nothing answers (as PM2 does).
#pragma once

#include <string>

#include "config/paths.hpp"
#include "ipc/client.hpp"

namespace pmx::cli {

/// Thrown when the daemon can be neither reached nor started; main() exits 3 with the message.
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Connects to the daemon of paths.home. With autostart, starts pmxd when the socket does not
/// answer and waits (with a deadline) until it does. Throws Unreachable with the reason.
void connect(ipc::Client& client, const config::Paths& paths, bool autostart);

/// The pmxd binary: $PMXD, else next to this pmx, else ../lib/pmx/pmxd (the package: /usr/bin/pmx
/// runs /usr/lib/pmx/pmxd), else ../daemon/pmxd (build tree), else PATH.
std::string daemon_binary();

/// A program that ships with pmx (pmxd, pmx-serve): next to pmx, in ../lib/pmx (the package),
/// or in the build tree's folder; its bare name (found in PATH) otherwise.
std::string companion_binary(const std::string& name, const std::string& build_folder);

}  // namespace pmx::cli
