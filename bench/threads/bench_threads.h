/* The command line and result line shared by W15's C and C++ programs, so
 * every implementation is driven and timed the same way:
 *
 *   threads-IMPL roundtrip N   a loop runs in a background thread; this
 *                              thread submits a task returning an int and
 *                              blocks for its result, N times in turn
 *   threads-IMPL burst N       this thread submits N such tasks without
 *                              waiting, then waits for each future in turn
 *
 * Each prints one JSON line {"impl", "case", "count", "seconds", "value"}:
 * roundtrip's value is the median µs of a round trip (timed one by one) and
 * it adds "p99"; burst's is submissions completed per second. */
#ifndef BENCH_THREADS_H
#define BENCH_THREADS_H

#include <stddef.h>
#include <stdint.h>

#include "../io/oneshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 and the mode ("roundtrip" or "burst") with its count, or prints the
 * usage to stderr and returns 2 (the exit status). */
int threads_parse_args(int argc, char **argv, const char *prog, const char **mode, uint64_t *count);
/* Sorts the n round trips (seconds each) and prints their line. */
void threads_report_roundtrip(const char *impl, double *trips, uint64_t n, double seconds);
void threads_report_burst(const char *impl, uint64_t n, double seconds);

#ifdef __cplusplus
}
#endif
#endif
