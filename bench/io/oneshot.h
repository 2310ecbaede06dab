/* The command line and result line shared by the W13 and W14 programs
 * (bench/io/proc/, bench/io/files/), so every implementation is driven and
 * timed the same way:
 *
 *   proc-IMPL spawn N          spawns `true` and waits for it, N times in turn
 *   proc-IMPL cat BYTES        writes BYTES into `cat` while reading them back
 *   files-IMPL small PATH N    reads the (small) file whole, N times in turn
 *   files-IMPL big PATH N      reads the (big) file whole, N times; the median
 *
 * Each prints one JSON line: {"impl", "case", "count", "seconds", "value"},
 * value being per second (spawns/s, MB/s, reads/s). */
#ifndef BENCH_IO_ONESHOT_H
#define BENCH_IO_ONESHOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct oneshot_args {
  const char *mode; /* "spawn", "cat", "small" or "big" */
  const char *path; /* small and big */
  uint64_t count;   /* spawns, bytes or reads; at least 1 */
};

/* 0, or prints the usage to stderr and returns 2 (the exit status). `modes`
 * is "proc" (spawn, cat) or "files" (small, big). */
int oneshot_parse_args(int argc, char **argv, const char *prog, const char *modes, struct oneshot_args *args);
double oneshot_now(void);
/* Sorts v. */
double oneshot_median(double *v, size_t n);
/* The result line. */
void oneshot_report(const char *impl, const struct oneshot_args *args, double seconds, double value);

#ifdef __cplusplus
}
#endif
#endif
