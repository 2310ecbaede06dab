/* The timing harness shared by every C and C++ comparison program (uvrun's C
 * API, uvrun's C++ layer, asio, raw libuv). The Python and Rust programs
 * reimplement the same rules, so each number in bench/results is measured
 * the same way:
 *   - one warm-up call, then the batch size grows until one call takes at
 *     least BENCH_SAMPLE_MS (default 50 ms) of wall time;
 *   - BENCH_SAMPLES (default 7) timed calls of that size follow;
 *   - one JSON line reports the median, min and max wall-clock ns per op.
 * A "call" runs the workload `iters` times; `ops_per_iter` says how many
 * operations one iteration stands for (100000 for a burst of 100k tasks). */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef void (*bh_fn)(void *ctx, long iters);

static inline double bh_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline long bh_env(const char *name, long dflt) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? atol(v) : dflt;
}

static int bh_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Prints the common JSON line. */
static inline void bh_report(const char *workload, const char *impl, const double *ns_per_op, int n,
                             long ops_per_sample) {
  double sorted[64];
  int i;
  if (n > 64) n = 64;
  memcpy(sorted, ns_per_op, sizeof(double) * (size_t)n);
  qsort(sorted, (size_t)n, sizeof(double), bh_cmp);
  double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  printf(
      "{\"workload\":\"%s\",\"impl\":\"%s\",\"ns_per_op\":%.3f,\"min\":%.3f,\"max\":%.3f,"
      "\"samples\":%d,\"ops_per_sample\":%ld,\"all\":[",
      workload, impl, median, sorted[0], sorted[n - 1], n, ops_per_sample);
  for (i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", ns_per_op[i]);
  printf("]}\n");
  fflush(stdout);
}

static inline void bh_measure(const char *workload, const char *impl, bh_fn fn, void *ctx, long ops_per_iter) {
  const double target = (double)bh_env("BENCH_SAMPLE_MS", 50) * 1e6;
  int samples = (int)bh_env("BENCH_SAMPLES", 7), i;
  double ns[64];
  long iters = 1;
  if (samples < 1) samples = 1;
  if (samples > 64) samples = 64;
  fn(ctx, 1); /* warm-up */
  for (;;) {
    double t0 = bh_now_ns();
    fn(ctx, iters);
    double dt = bh_now_ns() - t0;
    if (dt >= target || iters >= (1L << 40)) break;
    double grow = dt > 0 ? target * 1.2 / dt : 10.0;
    if (grow > 10.0) grow = 10.0;
    if (grow < 2.0) grow = 2.0;
    iters = (long)((double)iters * grow);
  }
  for (i = 0; i < samples; i++) {
    double t0 = bh_now_ns();
    fn(ctx, iters);
    ns[i] = (bh_now_ns() - t0) / ((double)iters * (double)ops_per_iter);
  }
  bh_report(workload, impl, ns, samples, iters * ops_per_iter);
}

/* Peak resident set so far, in bytes. */
static inline long bh_peak_rss(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024L;
}

/* W4's line: one fresh process gives one sample; the driver repeats it. */
static inline void bh_report_w4(const char *impl, long n, double wall_ns, long rss_before) {
  printf("{\"workload\":\"W4\",\"impl\":\"%s\",\"tasks\":%ld,\"wall_ms\":%.3f,\"bytes_per_task\":%.1f}\n", impl, n,
         wall_ns / 1e6, (double)(bh_peak_rss() - rss_before) / (double)n);
  fflush(stdout);
}

/* Which workloads to run: none named on the command line means all. */
static inline int bh_wanted(int argc, char **argv, const char *name) {
  int i, any = 0;
  for (i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;
    any = 1;
    if (strcmp(argv[i], name) == 0) return 1;
  }
  return !any;
}

#ifdef __cplusplus
#  include <utility>
/* C++: measure any callable taking the iteration count. */
template <class F>
void bh_measure_fn(const char *workload, const char *impl, long ops_per_iter, F &&f) {
  bh_measure(
      workload, impl, [](void *ctx, long iters) { (*static_cast<F *>(ctx))(iters); }, static_cast<void *>(&f),
      ops_per_iter);
}
#endif

#endif /* BENCH_HARNESS_H */
