// The build's identity: the release version and the git commit pmx and pmxd were built from.
#pragma once

#include <string>
#include <string_view>

namespace pmx::ipc {

/// The commit of the build (`git rev-parse --short HEAD` at configure time), or "unknown" for a
/// tree without .git (a release tarball).
const char* build_commit();

/// The version of the control protocol (docs/protocol.md) and of what one pmxd hands the next
/// at `pmx update` (the state file, the FIFOs, the inherited lock). `pmxd --protocol-version`
/// prints kProtocolAnswer and this number; `update` execs only a binary that prints this one.
inline constexpr int kProtocolVersion = 1;
inline constexpr std::string_view kProtocolFlag = "--protocol-version";
inline constexpr std::string_view kProtocolAnswer = "pmxd-protocol ";

/// "0.1.0 (commit d21d8b8)": what `pmx --version` and `pmxd --version` print after their name.
std::string version_line();

}  // namespace pmx::ipc
