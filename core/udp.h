/* udp.h -- a UDP socket's parts, shared by udp.c (its life, sending) and
 * udp_recv.c (receiving). Nothing here is API. */
#ifndef UVRUN_UDP_INTERNAL_H
#define UVRUN_UDP_INTERNAL_H

#include "io.h"

/* A datagram taken from the kernel for the waiting receive, kept until
 * that receive's result is taken (so a cancelled one loses nothing). */
typedef struct uvr_datagram {
  size_t len;
  int partial; /* longer than libuv's buffer: cut */
  struct sockaddr_storage from;
  char data[];
} uvr_datagram;

struct uvrun_udp_s {
  uv_udp_t uv; /* first: libuv's callbacks find the socket from it */
  /* The caller's references and those of the futures waiting on it. Memory
   * goes when they are gone and the handle is closed (L3). */
  int refs;
  uvrun_loop_t *loop;       /* reference */
  uvrun_udp_t *prev, *next; /* loop->udps, until the handle is closed */
  uint8_t closing;          /* close() was called, or the socket was dropped */
  uint8_t closed;           /* the handle's close callback ran */
  uint8_t connected;
  uint8_t receiving; /* uv_udp_recv_start is on */
  /* receiving (udp_recv.c) */
  uvrun_future_t *receiver; /* the receive waiting, or done but not yet taken */
  uvr_datagram *held;
  uint64_t received;
  /* sending (udp.c) */
  size_t send_queued; /* bytes in uv_udp_send requests not yet done */
  unsigned sends_out;
  int send_err; /* a queued send's failure, for the next send or drain */
  uint64_t sent;
  uvr_waiters drains;
};

/* 0, or the error (recorded): udp is not NULL and, in debug mode, used on
 * its loop's thread; uvr_udp_check_open also that it is not closed. */
int uvr_udp_check(const uvrun_udp_t *udp);
int uvr_udp_check_open(const uvrun_udp_t *udp);
/* A socket address as uvrun_address_t (next NULL). */
void uvr_udp_address(uvrun_address_t *addr, const struct sockaddr_storage *ss);

/* ---- udp_recv.c ---- */
/* The socket closes: a waiting receive fails, receiving stops, a held
 * datagram goes. */
void uvr_udp_recv_close(uvrun_udp_t *udp);

#endif /* UVRUN_UDP_INTERNAL_H */
