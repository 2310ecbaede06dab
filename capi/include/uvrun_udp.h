/* uvrun_udp.h -- UDP datagrams (included by uvrun_io.h).
 *
 * A UDP socket is bound (and optionally connected) at once: binding,
 * sending and closing never wait and return an int. Receiving returns a
 * uvrun_future_t * to await. Addresses are numeric ("127.0.0.1", "::1");
 * look names up first with uvrun_getaddrinfo.
 *
 * Datagrams are taken from the kernel only while a receive waits, so the
 * kernel's buffer holds what nobody asked for yet, and a receive consumes
 * its datagram only when its result is taken: one cancelled or timed out
 * -- even in the loop iteration its datagram arrived -- loses none, and the
 * next receive gets it.
 *
 * A socket is reference-counted and belongs to its loop's thread. Dropping
 * the last reference to an open one closes it at once; a runner's close
 * closes those still open. */
#ifndef UVRUN_UDP_H
#define UVRUN_UDP_H

#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvrun_udp_s uvrun_udp_t;

typedef struct uvrun_udp_opts_s {
  uint32_t size;
  int32_t
      reuse_address; /* SO_REUSEADDR (several sockets on one multicast port): 0 (default) or 1 */
  int32_t
      ipv6_only; /* an IPv6 socket takes no IPv4 datagrams: 0 (default) or 1 */
  int32_t broadcast; /* SO_BROADCAST: 0 (default) or 1 */
  /* For a NULL or "" host: AF_INET (the default, 0.0.0.0) or AF_INET6
   * (::); 0 is AF_INET. A numeric host has its own family. */
  int32_t family;
} uvrun_udp_opts_t;
UVRUN_EXTERN void uvrun_udp_opts_init(uvrun_udp_opts_t *opts);

/* A socket bound to host (numeric; NULL or "": any address of
 * opts->family) and port (0: a free one, see uvrun_udp_sockname). */
UVRUN_EXTERN int uvrun_udp_bind(uvrun_loop_t *loop, const char *host, int port,
                                const uvrun_udp_opts_t *opts,
                                uvrun_udp_t **out);
/* Sends and receives with this peer only (numeric host, port 1-65535);
 * uvrun_udp_send then needs no address. Once only. */
UVRUN_EXTERN int uvrun_udp_connect(uvrun_udp_t *udp, const char *host,
                                   int port);

UVRUN_EXTERN uvrun_udp_t *uvrun_udp_ref(uvrun_udp_t *udp);
UVRUN_EXTERN void uvrun_udp_unref(uvrun_udp_t *udp);
UVRUN_EXTERN uvrun_loop_t *uvrun_udp_loop(const uvrun_udp_t *udp);

/* The local address (port filled in when bound to 0) and, when connected,
 * the peer's. `next` is NULL. */
UVRUN_EXTERN int uvrun_udp_sockname(const uvrun_udp_t *udp,
                                    uvrun_address_t *addr);
UVRUN_EXTERN int uvrun_udp_peername(const uvrun_udp_t *udp,
                                    uvrun_address_t *addr);

/* ---- Sending -----------------------------------------------------------------
 * A send never waits: the datagram goes now if the socket takes it, else
 * a copy is queued, in call order. A queued send's failure is reported by
 * the next send or drain. A zero-length datagram is legal; data may be
 * NULL only then. */
/* `to`: its host (numeric) and port are used, so a receive's sender can be
 * answered as it is. */
UVRUN_EXTERN int uvrun_udp_send_to(uvrun_udp_t *udp, const void *data, size_t n,
                                   const uvrun_address_t *to);
/* On a connected socket. */
UVRUN_EXTERN int uvrun_udp_send(uvrun_udp_t *udp, const void *data, size_t n);
/* Done when no datagram is queued any more. Any number may wait; a
 * cancelled drain leaves the queue as it is. */
UVRUN_EXTERN uvrun_future_t *uvrun_udp_drain(uvrun_udp_t *udp);

/* ---- Receiving ---------------------------------------------------------------
 * One datagram into buf (cap bytes; buf must stay valid until the result
 * is taken). The value is its length, as uintptr_t (0 for an empty one);
 * uvrun_udp_recv_address() gives its sender. A datagram longer than cap
 * fails the receive with -EMSGSIZE and is dropped; the next
 * datagram is not affected. One receive waits at a time: a second fails at
 * once with UVRUN_E_READ_BUSY and leaves the first alone. */
UVRUN_EXTERN uvrun_future_t *uvrun_udp_recv_from(uvrun_udp_t *udp, void *buf,
                                                 size_t cap);
/* The sender of a done receive (a future of uvrun_udp_recv_from). */
UVRUN_EXTERN int uvrun_udp_recv_address(const uvrun_future_t *recv,
                                        uvrun_address_t *addr);

/* ---- Multicast and broadcast ------------------------------------------------ */
/* Joins (leaves) the numeric group on the interface with the numeric
 * address iface (NULL: the system's choice). */
UVRUN_EXTERN int uvrun_udp_join(uvrun_udp_t *udp, const char *group,
                                const char *iface);
UVRUN_EXTERN int uvrun_udp_leave(uvrun_udp_t *udp, const char *group,
                                 const char *iface);
/* Whether multicast sent from here loops back to this host (default 1). */
UVRUN_EXTERN int uvrun_udp_set_multicast_loop(uvrun_udp_t *udp, int on);
/* The hop limit of multicast sent from here, 1-255 (default 1). */
UVRUN_EXTERN int uvrun_udp_set_multicast_ttl(uvrun_udp_t *udp, int ttl);

/* ---- Closing ---------------------------------------------------------------
 * Sends what is queued, then closes; a waiting receive fails with
 * UVRUN_E_STREAM_CLOSED at once, as does every operation after.
 * Idempotent. */
UVRUN_EXTERN int uvrun_udp_close(uvrun_udp_t *udp);

typedef struct uvrun_udp_info_s {
  uint32_t size;
  int32_t fd;     /* -1 once closed */
  int32_t closed; /* close was called */
  int32_t connected;
  uint64_t send_queued; /* bytes queued, not yet sent */
  uint64_t sent;        /* datagrams sent */
  uint64_t received;    /* datagrams received (dropped ones included) */
} uvrun_udp_info_t;
UVRUN_EXTERN int uvrun_udp_info(const uvrun_udp_t *udp, uvrun_udp_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* UVRUN_UDP_H */
