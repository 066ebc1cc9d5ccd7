// BinaryProbe: asks a program whether it is a pmxd this one can hand over to (`pmx update`):
// runs `<binary> --protocol-version` and reads its answer, within a deadline. It waits: call it
// off the loop (the supervisor's background worker).
#pragma once

#include <chrono>
#include <string>

#include "config/result.hpp"

namespace pmx::daemon {

/// The protocol version binary reports (`pmxd-protocol N` on its stdout, exit 0), or why it
/// reports none: it cannot run, says something else, or takes longer than timeout (it is then
/// killed). Its stdin and stderr are /dev/null; at most 4 KiB of its output is read.
Result<int> probe_protocol(const std::string& binary, std::chrono::milliseconds timeout);

}  // namespace pmx::daemon
