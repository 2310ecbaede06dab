/* The parts of W10 both bulk programs share (see bulk.h). */
#define _POSIX_C_SOURCE 200809L
#include "bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CHUNK (64u << 10)

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s sink [--host H] --port P\n"
          "       %s source [--host H] --port P --bytes N [--chunk C]\n",
          prog, prog);
  return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (*s < '0' || *s > '9') return -1;
  *out = strtoull(s, &end, 10);
  return *end == '\0' ? 0 : -1;
}

int bulk_parse_args(int argc, char **argv, const char *prog, struct bulk_args *args) {
  uint64_t v;
  int i, have_port = 0, have_bytes = 0;
  memset(args, 0, sizeof *args);
  args->host = "127.0.0.1";
  args->chunk = DEFAULT_CHUNK;
  if (argc < 2) return usage(prog);
  if (strcmp(argv[1], "sink") == 0) args->mode = BULK_SINK;
  else if (strcmp(argv[1], "source") == 0) args->mode = BULK_SOURCE;
  else return usage(prog);
  for (i = 2; i < argc; i += 2) {
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (val == NULL) return usage(prog);
    if (strcmp(opt, "--host") == 0) {
      args->host = val;
    } else if (strcmp(opt, "--port") == 0 && parse_u64(val, &v) == 0 && v <= 65535) {
      args->port = (int)v;
      have_port = 1;
    } else if (strcmp(opt, "--bytes") == 0 && parse_u64(val, &v) == 0) {
      args->bytes = v;
      have_bytes = 1;
    } else if (strcmp(opt, "--chunk") == 0 && parse_u64(val, &v) == 0 && v > 0 && v <= (64u << 20)) {
      args->chunk = (size_t)v;
    } else {
      return usage(prog);
    }
  }
  if (!have_port || (args->mode == BULK_SOURCE && (!have_bytes || args->port == 0))) return usage(prog);
  return 0;
}

double bulk_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *bulk_chunk_new(size_t n) {
  char *p = malloc(n);
  if (p != NULL) memset(p, 'x', n);
  return p;
}

void bulk_encode_count(uint64_t n, unsigned char out[8]) {
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)(n >> (8 * i));
}

uint64_t bulk_decode_count(const unsigned char in[8]) {
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= (uint64_t)in[i] << (8 * i);
  return n;
}

void bulk_print_listening(const char *host, int port) {
  printf("listening on %s:%d\n", host, port);
  fflush(stdout);
}

int bulk_report(const char *impl, uint64_t sent, uint64_t counted, double seconds) {
  if (counted != sent) {
    fprintf(stderr, "%s source: sent %llu bytes, the sink counted %llu\n", impl, (unsigned long long)sent,
            (unsigned long long)counted);
    return 1;
  }
  printf("{\"impl\":\"%s\",\"bytes\":%llu,\"seconds\":%.6f,\"mb_s\":%.1f}\n", impl, (unsigned long long)sent, seconds,
         seconds > 0 ? (double)sent / 1e6 / seconds : 0.0);
  fflush(stdout);
  return 0;
}
