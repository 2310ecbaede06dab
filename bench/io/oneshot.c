/* The parts of W13 and W14 every C and C++ program shares (see oneshot.h). */
#define _POSIX_C_SOURCE 200809L
#include "oneshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(const char *prog, const char *modes) {
  if (strcmp(modes, "proc") == 0) fprintf(stderr, "usage: %s spawn N | cat BYTES\n", prog);
  else fprintf(stderr, "usage: %s small PATH N | big PATH N\n", prog);
  return 2;
}

int oneshot_parse_args(int argc, char **argv, const char *prog, const char *modes, struct oneshot_args *args) {
  int proc = strcmp(modes, "proc") == 0;
  const char *count;
  char *end;
  memset(args, 0, sizeof *args);
  if (argc != (proc ? 3 : 4)) return usage(prog, modes);
  args->mode = argv[1];
  if (proc ? strcmp(argv[1], "spawn") != 0 && strcmp(argv[1], "cat") != 0
           : strcmp(argv[1], "small") != 0 && strcmp(argv[1], "big") != 0)
    return usage(prog, modes);
  if (!proc) args->path = argv[2];
  count = argv[argc - 1];
  if (*count < '1' || *count > '9') return usage(prog, modes);
  args->count = strtoull(count, &end, 10);
  return *end == '\0' ? 0 : usage(prog, modes);
}

double oneshot_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double oneshot_median(double *v, size_t n) {
  qsort(v, n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void oneshot_report(const char *impl, const struct oneshot_args *args, double seconds, double value) {
  printf("{\"impl\":\"%s\",\"case\":\"%s\",\"count\":%llu,\"seconds\":%.6f,\"value\":%.1f}\n", impl, args->mode,
         (unsigned long long)args->count, seconds, value);
  fflush(stdout);
}
