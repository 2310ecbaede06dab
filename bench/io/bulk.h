/* W10's command line, count encoding and result line, shared by
 * bulk_uvrun.c and bulk_libuv.c so both programs move and time the same
 * bytes the same way:
 *
 *   PROG sink [--host H] --port P
 *       prints "listening on H:PORT", accepts one connection, reads and
 *       discards until EOF, writes back the count (8 bytes, little-endian)
 *       and exits.
 *   PROG source [--host H] --port P --bytes N [--chunk C]
 *       connects, writes N bytes in C-byte chunks (default 64 KiB) with
 *       backpressure, shuts down its write side, reads the count back,
 *       checks it is N and prints one JSON line. The clock runs from the
 *       connection being up to the count being read. */
#ifndef BENCH_IO_BULK_H
#define BENCH_IO_BULK_H

#include <stddef.h>
#include <stdint.h>

enum bulk_mode { BULK_SINK, BULK_SOURCE };

struct bulk_args {
  enum bulk_mode mode;
  const char *host; /* numeric */
  int port;
  uint64_t bytes;
  size_t chunk;
};

/* 0, or prints the usage to stderr and returns 2 (the exit status). */
int bulk_parse_args(int argc, char **argv, const char *prog, struct bulk_args *args);
double bulk_now(void);
/* The chunk a source writes over and over (its content does not matter). */
char *bulk_chunk_new(size_t n);
void bulk_encode_count(uint64_t n, unsigned char out[8]);
uint64_t bulk_decode_count(const unsigned char in[8]);
void bulk_print_listening(const char *host, int port);
/* The result line; 0, or 1 (the exit status) when the sink counted
 * something else than was sent. */
int bulk_report(const char *impl, uint64_t sent, uint64_t counted, double seconds);

#endif
