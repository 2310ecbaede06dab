/* The parts of W15 every C and C++ program shares (see bench_threads.h). */
#include "bench_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int threads_parse_args(int argc, char **argv, const char *prog, const char **mode, uint64_t *count) {
  char *end = NULL;
  if (argc == 3 && (strcmp(argv[1], "roundtrip") == 0 || strcmp(argv[1], "burst") == 0) && argv[2][0] >= '1' &&
      argv[2][0] <= '9') {
    *mode = argv[1];
    *count = strtoull(argv[2], &end, 10);
  }
  if (end != NULL && *end == '\0') return 0;
  fprintf(stderr, "usage: %s roundtrip N | burst N\n", prog);
  return 2;
}

void threads_report_roundtrip(const char *impl, double *trips, uint64_t n, double seconds) {
  double median = oneshot_median(trips, (size_t)n); /* sorts */
  double p99 = trips[(size_t)((double)(n - 1) * 0.99)];
  printf("{\"impl\":\"%s\",\"case\":\"roundtrip\",\"count\":%llu,\"seconds\":%.6f,\"value\":%.2f,\"p99\":%.2f}\n", impl,
         (unsigned long long)n, seconds, median * 1e6, p99 * 1e6);
  fflush(stdout);
}

void threads_report_burst(const char *impl, uint64_t n, double seconds) {
  printf("{\"impl\":\"%s\",\"case\":\"burst\",\"count\":%llu,\"seconds\":%.6f,\"value\":%.1f}\n", impl,
         (unsigned long long)n, seconds, (double)n / seconds);
  fflush(stdout);
}
