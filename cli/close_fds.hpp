// Closing what a forked child inherited before it execs something long-lived.
#pragma once

namespace pmx::cli {

/// Closes every descriptor from lowest up (close_range, or one by one where it is missing), so a
/// long-lived child (pmxd, an app starter) does not keep the caller's terminal, a pipe some
/// script waits on, or a deleted file's space. Async-signal-safe: for a forked child.
void close_fds_from(int lowest);

}  // namespace pmx::cli
