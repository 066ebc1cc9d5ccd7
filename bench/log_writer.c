/* log_writer: the app of bench/logs.sh. It writes numbered lines to stdout, then sleeps.
 *
 *   log_writer bulk N    N lines of 100 bytes in 64 KiB writes (a line may straddle two)
 *   log_writer line N    the same N lines, one write(2) per line
 *   log_writer tick N    "warm" every 10 ms until $BENCH_GO_FILE exists, then N lines
 *                        "tick=<i> t=<CLOCK_REALTIME ns>" 10 ms apart, one write each
 *
 * A bulk/line line is "seq=<10 digits>;" then 'x' up to 99 bytes, then '\n'; the numbers run
 * from 0 to N-1, so a reader can check that every line arrived once and in order.
 * When BENCH_START_FILE is set, "<ns> start\n" is appended to it just before the first write
 * and "<ns> end\n" after the last write returned (CLOCK_REALTIME). Afterwards the writer
 * pause()s, so no manager restarts it while the harness looks at the log. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { kLine = 100, kChunk = 64 * 1024 };

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(3);
    }
    p += w;
    n -= (size_t)w;
  }
}

static void stamp(const char *what) {
  const char *path = getenv("BENCH_START_FILE");
  if (!path || !*path) return;
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%lld %s\n", now_ns(), what);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_all(fd, buf, (size_t)n);
  close(fd);
}

/* Line i into out (kLine bytes). */
static void format_line(char *out, unsigned long i) {
  memcpy(out, "seq=", 4);
  for (int d = 13; d >= 4; --d) {
    out[d] = (char)('0' + i % 10);
    i /= 10;
  }
  out[14] = ';';
  memset(out + 15, 'x', kLine - 16);
  out[kLine - 1] = '\n';
}

static void sleep_until(struct timespec *t, long step_ns) {
  t->tv_nsec += step_ns;
  while (t->tv_nsec >= 1000000000L) {
    t->tv_nsec -= 1000000000L;
    t->tv_sec++;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR) {
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: log_writer bulk|line|tick N\n");
    return 2;
  }
  const char *mode = argv[1];
  unsigned long n = strtoul(argv[2], NULL, 10);

  if (strcmp(mode, "bulk") == 0) {
    static char chunk[kChunk];
    char line[kLine];
    size_t used = 0;
    stamp("start");
    for (unsigned long i = 0; i < n; ++i) {
      format_line(line, i);
      size_t room = kChunk - used;
      if (room >= kLine) {
        memcpy(chunk + used, line, kLine);
        used += kLine;
      } else {
        memcpy(chunk + used, line, room);
        write_all(STDOUT_FILENO, chunk, kChunk);
        memcpy(chunk, line + room, kLine - room);
        used = kLine - room;
      }
    }
    write_all(STDOUT_FILENO, chunk, used);
    stamp("end");
  } else if (strcmp(mode, "line") == 0) {
    char line[kLine];
    stamp("start");
    for (unsigned long i = 0; i < n; ++i) {
      format_line(line, i);
      write_all(STDOUT_FILENO, line, kLine);
    }
    stamp("end");
  } else if (strcmp(mode, "tick") == 0) {
    const char *go = getenv("BENCH_GO_FILE");
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    /* Until the reader has seen a line (and so is subscribed), at most 60 s. */
    for (int w = 0; go && *go && access(go, F_OK) != 0 && w < 6000; ++w) {
      write_all(STDOUT_FILENO, "warm\n", 5);
      sleep_until(&t, 10 * 1000 * 1000);
    }
    for (unsigned long i = 0; i < n; ++i) {
      char buf[64];
      int len = snprintf(buf, sizeof buf, "tick=%lu t=%lld\n", i, now_ns());
      write_all(STDOUT_FILENO, buf, (size_t)len);
      sleep_until(&t, 10 * 1000 * 1000);
    }
  } else {
    fprintf(stderr, "log_writer: unknown mode '%s'\n", mode);
    return 2;
  }
  for (;;) pause();
}
