// OutputFifo: the named pipes that carry an instance's stdout and stderr to the daemon, so
// that the app outlives the daemon with its output intact.
//
// Each instance has `$PMX_HOME/fifos/<id>.out` and `<id>.err`. The child gets the FIFO opened
// read+write as its fd 1 (or 2): it is then a reader of its own pipe, so a write never fails
// with EPIPE while no pmxd is there; it blocks once the pipe is full, until the next pmxd opens
// the FIFO and drains it. The daemon's end is opened read+write as well, so it never sees end
// of file between two runs of the instance: one reader serves the instance's whole life, with
// no line lost or split between readers. The folder is pmx's own (0700), and neither end is
// opened through a link or kept when the name holds something else than a FIFO.
#pragma once

#include <string>
#include <system_error>

namespace pmx::daemon {

enum class Stream { Out, Err };

/// The FIFO of stream for instance id under dir ($PMX_HOME/fifos).
std::string fifo_path(const std::string& dir, int id, Stream stream);

/// Creates the FIFO (mode 0600) unless it exists as one already.
std::error_code make_fifo(const std::string& path);

/// The daemon's end: read+write, non-blocking, close-on-exec; never through a link, and only a
/// FIFO (EINVAL otherwise). -1 with errno on failure.
int open_fifo_reader(const std::string& path);

/// The child's end (for dup2 onto 1 or 2): read+write, blocking, close-on-exec; never through a
/// link, and only a FIFO (EINVAL otherwise). -1 with errno on failure.
int open_fifo_child_end(const std::string& path);

}  // namespace pmx::daemon
