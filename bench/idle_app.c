/* idle_app: the benchmark fixture. It sleeps forever.
 *
 * On start, when BENCH_STAMP_FILE is set, it appends one line
 *     <CLOCK_REALTIME in ns> <pid>\n
 * to that file with a single write(2) on an O_APPEND descriptor, so that
 * bench/run.sh can measure the time from a kill -9 of the previous instance
 * to the exec of its replacement. Nothing else: no output, no allocation. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts); /* first thing: as close to exec as we can */
  const char *stamp = getenv("BENCH_STAMP_FILE");
  if (stamp && *stamp) {
    char line[64];
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    int n = snprintf(line, sizeof line, "%lld %ld\n", ns, (long)getpid());
    int fd = open(stamp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (write(fd, line, (size_t)n) != n) { /* nothing to do about it */ }
      close(fd);
    }
  }
  for (;;) pause();
  return 0;
}
