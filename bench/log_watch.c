/* log_watch: the measuring side of bench/logs.sh.
 *
 *   log_watch wait FILE MIN_BYTES LAST_SEQ START_FILE PID TIMEOUT_S
 *     Waits for log_writer's "start" stamp in START_FILE, reads PID's CPU time (utime+stime
 *     from /proc/PID/stat), then every 5 ms looks at FILE until it holds at least MIN_BYTES and
 *     ends with the complete line "seq=<LAST_SEQ>;...\n". Prints one line:
 *       <ms from the writer's start to the last line seen> <ms the writer took to write>
 *       <PID's CPU ms over the window> <PID's VmHWM in KiB>
 *     Exit status 1 (and "timeout ...") if the last line is not there within TIMEOUT_S.
 *
 *   log_watch latency N GO_FILE TIMEOUT_S
 *     Reads lines on stdin; at the first "warm" line it creates GO_FILE (the subscriber is live:
 *     log_writer tick starts its timed lines). For each line "tick=<i> t=<ns>" it takes
 *     CLOCK_REALTIME on receipt; after N of them (or EOF, or TIMEOUT_S) it prints
 *       <median ms> <p99 ms> <max ms> <lines received>
 *     p99 is nearest-rank. With BENCH_LAT_DUMP set, each line's latency (ms, in arrival order)
 *     is also written to that file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) == -1 && errno == EINTR) {
  }
}

static int read_text(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  return (int)n;
}

/* utime + stime of the whole process (all threads), in clock ticks; -1 if gone. */
static long long cpu_ticks(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (read_text(path, buf, sizeof buf) < 0) return -1;
  char *p = strrchr(buf, ')'); /* comm may hold spaces */
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ") ": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (long long)(ut + st);
}

static long hwm_kib(long pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (read_text(path, buf, sizeof buf) < 0) return -1;
  char *p = strstr(buf, "VmHWM:");
  return p ? strtol(p + 6, NULL, 10) : -1;
}

/* The "<ns> <what>" stamp of START_FILE, 0 if not there yet. */
static long long stamp_of(const char *path, const char *what) {
  char buf[256];
  if (read_text(path, buf, sizeof buf) < 0) return 0;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    long long ns;
    char word[16];
    if (sscanf(line, "%lld %15s", &ns, word) == 2 && strcmp(word, what) == 0) return ns;
    line = nl ? nl + 1 : NULL;
  }
  return 0;
}

static int cmd_wait(char **argv) {
  const char *file = argv[0];
  long long min_bytes = atoll(argv[1]);
  unsigned long last = strtoul(argv[2], NULL, 10);
  const char *start_file = argv[3];
  long pid = atol(argv[4]);
  long long deadline = now_ns() + atoll(argv[5]) * 1000000000LL;
  long hz = sysconf(_SC_CLK_TCK);

  char needle[32];
  snprintf(needle, sizeof needle, "seq=%010lu;", last);

  long long start = 0;
  while ((start = stamp_of(start_file, "start")) == 0) {
    if (now_ns() > deadline) {
      printf("timeout: the writer never started\n");
      return 1;
    }
    nap_ms(1);
  }
  long long c0 = cpu_ticks(pid);

  char tail[512];
  for (;;) {
    struct stat st;
    if (stat(file, &st) == 0 && st.st_size >= min_bytes) {
      int fd = open(file, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        off_t off = st.st_size > (off_t)sizeof tail - 1 ? st.st_size - (off_t)(sizeof tail - 1) : 0;
        ssize_t n = pread(fd, tail, sizeof tail - 1, off);
        close(fd);
        if (n > 0) {
          tail[n] = '\0';
          char *hit = strstr(tail, needle);
          if (hit && strchr(hit, '\n')) break;
        }
      }
    }
    if (now_ns() > deadline) {
      printf("timeout: the last line is not in %s\n", file);
      return 1;
    }
    nap_ms(5);
  }
  long long seen = now_ns();
  long long c1 = cpu_ticks(pid);
  long hwm = hwm_kib(pid);
  long long end = stamp_of(start_file, "end");
  printf("%.1f %.1f %.0f %ld\n", (seen - start) / 1e6, end ? (end - start) / 1e6 : -1.0,
         (c0 >= 0 && c1 >= 0) ? (double)(c1 - c0) * 1000.0 / (double)hz : -1.0, hwm);
  return 0;
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

static int cmd_latency(char **argv) {
  long want = atol(argv[0]);
  const char *go = argv[1];
  long long deadline = now_ns() + atoll(argv[2]) * 1000000000LL;
  long long *lat = calloc((size_t)want, sizeof *lat);
  if (!lat) return 1;
  long got = 0;
  int went = 0;
  static char buf[1 << 16];
  size_t used = 0;

  while (got < want) {
    long long left_ms = (deadline - now_ns()) / 1000000;
    if (left_ms <= 0) break;
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int r = poll(&p, 1, (int)(left_ms > 1000 ? 1000 : left_ms));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = read(STDIN_FILENO, buf + used, sizeof buf - used);
    long long recv = now_ns();
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', used - (size_t)(line - buf))) != NULL) {
      *nl = '\0';
      if (!went && strstr(line, "warm")) {
        int fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
        went = 1;
      }
      char *t = strstr(line, "tick=");
      char *ts = t ? strstr(t, " t=") : NULL;
      if (ts && got < want) lat[got++] = recv - atoll(ts + 3);
      line = nl + 1;
    }
    used -= (size_t)(line - buf);
    memmove(buf, line, used);
    if (used == sizeof buf) used = 0; /* a line longer than the buffer: not ours */
  }
  if (got == 0) {
    printf("nan nan nan 0\n");
    return 1;
  }
  const char *dump = getenv("BENCH_LAT_DUMP");
  FILE *df = dump && *dump ? fopen(dump, "w") : NULL;
  if (df) {
    for (long i = 0; i < got; ++i) fprintf(df, "%.3f\n", lat[i] / 1e6);
    fclose(df);
  }
  qsort(lat, (size_t)got, sizeof *lat, cmp_ll);
  double med = (got % 2) ? lat[got / 2] : (lat[got / 2 - 1] + lat[got / 2]) / 2.0;
  long r99 = (long)((99 * got + 99) / 100); /* nearest rank: ceil(0.99 n) */
  printf("%.3f %.3f %.3f %ld\n", med / 1e6, lat[r99 - 1] / 1e6, lat[got - 1] / 1e6, got);
  free(lat);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 8 && strcmp(argv[1], "wait") == 0) return cmd_wait(argv + 2);
  if (argc == 5 && strcmp(argv[1], "latency") == 0) return cmd_latency(argv + 2);
  fprintf(stderr,
          "usage: log_watch wait FILE MIN_BYTES LAST_SEQ START_FILE PID TIMEOUT_S\n"
          "       log_watch latency N GO_FILE TIMEOUT_S\n");
  return 2;
}
