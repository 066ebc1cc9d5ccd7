// Heap trim: pmxd gives the free pages inside its heap back to the kernel after a large reply.
//
// A start of 1,000 apps or a jlist of them builds megabytes of small objects (one JSON entry per
// instance) and frees them. glibc returns only the top of the heap to the kernel, so the
// freed middle stayed resident: pmxd with 1,000 apps sat at 19 MiB after its first jlist where
// 10 MiB is in use. malloc_trim(0) releases every free page; it costs a walk of the heap
// (about a millisecond for 20 MB), so it runs after large replies only, at most once a second.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>

namespace pmx::daemon {

/// Replies of this size or more are followed by a trim.
inline constexpr std::size_t kTrimAfterReplyBytes = 256 * 1024;

/// Called once a reply of `bytes` is written: for a large one, trims the heap once the current
/// handler has returned (and its buffers are freed), unless a trim ran in the last second.
void trim_heap_after_reply(const boost::asio::any_io_executor& executor, std::size_t bytes);

}  // namespace pmx::daemon
