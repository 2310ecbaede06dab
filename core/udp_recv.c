/* udp_recv.c -- G1: receiving datagrams, cancel-safe as S3.
 *
 * The socket takes datagrams from the kernel only while a receive waits
 * (uv_udp_recv_start, stopped from the callback that completed it), so
 * what nobody asked for yet stays in the kernel's buffer. The datagram that
 * completes a receive is copied into the caller's buffer and kept until the
 * receive's result is taken: one cancelled or timed out before that -- even
 * in the loop iteration the datagram arrived -- leaves it for the next
 * receive, as a stream read leaves its bytes. */
#include <stdio.h>
#include <string.h>

#include "udp.h"

typedef struct udp_recv_state {
  uvrun_udp_t *udp; /* reference */
  char *buf;
  size_t cap;
  struct sockaddr_storage from; /* once done */
  uint8_t taken;
} udp_recv_state;

static udp_recv_state *udp_recv_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static int udp_receiver_waits(const uvrun_udp_t *udp) {
  return udp->receiver != NULL && udp->receiver->state == UVR_PENDING;
}

static void udp_held_drop(uvrun_udp_t *udp) {
  uvr_free(udp->held);
  udp->held = NULL;
}

/* ---- completing the waiting receive ---- */

static void udp_recv_fail(uvrun_udp_t *udp, int code, const char *message) {
  uvrun_future_t *fut = udp->receiver;
  udp->receiver = NULL;
  uvrun_future_set_error_code(fut, code, message);
}

/* The held datagram completes the waiting receive; it stays held until the
 * result is taken. One that does not fit is dropped: it cannot be read
 * whole, and the next one must not wait behind it. */
static void udp_receiver_check(uvrun_udp_t *udp) {
  udp_recv_state *r;
  char msg[128];
  if (!udp_receiver_waits(udp) || udp->held == NULL) return;
  r = udp_recv_of(udp->receiver);
  if (udp->held->partial || udp->held->len > r->cap) {
    snprintf(msg, sizeof msg, "a datagram of %s%zu bytes does not fit in a buffer of %zu bytes; it is dropped",
             udp->held->partial ? "more than " : "", udp->held->len, r->cap);
    udp_held_drop(udp);
    udp_recv_fail(udp, UV_EMSGSIZE, msg);
    return;
  }
  if (udp->held->len > 0) memcpy(r->buf, udp->held->data, udp->held->len);
  r->from = udp->held->from;
  uvrun_future_set_result(udp->receiver, (void *)(uintptr_t)udp->held->len, NULL);
}

/* ---- taking datagrams from the kernel ---- */

static void udp_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  uvrun_udp_t *udp = (uvrun_udp_t *)handle;
  size_t size;
  char *scratch = uvr_read_scratch(udp->loop, &size);
  (void)suggested;
  *buf = uv_buf_init(scratch, (unsigned)size); /* none: libuv reports UV_ENOBUFS */
}

static void udp_on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                        unsigned flags);

/* Receives while a receive waits and no datagram is held for it. */
static void udp_recv_flow(uvrun_udp_t *udp) {
  int go = !udp->closing && udp_receiver_waits(udp) && udp->held == NULL;
  char msg[128];
  int rc;
  if (go && !udp->receiving) {
    if ((rc = uv_udp_recv_start(&udp->uv, udp_on_alloc, udp_on_recv)) < 0) {
      udp_recv_fail(udp, rc, uvr_io_failure("receive", rc, msg, sizeof msg));
      return;
    }
    udp->receiving = 1;
  } else if (!go && udp->receiving) {
    uv_udp_recv_stop(&udp->uv); /* libuv's read loop stops at once */
    udp->receiving = 0;
  }
}

static void udp_on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                        unsigned flags) {
  uvrun_udp_t *udp = (uvrun_udp_t *)handle;
  uvr_datagram *d;
  char msg[128];
  if (nread == 0 && addr == NULL) return; /* nothing more to read now */
  if (nread < 0) {
    /* A connected socket's peer refused (ICMP), or out of buffers: the
     * waiting receive reports it; the socket goes on. */
    if (udp_receiver_waits(udp)) udp_recv_fail(udp, (int)nread, uvr_io_failure("receive", (int)nread, msg, sizeof msg));
    udp_recv_flow(udp);
    return;
  }
  udp->received++;
  if ((d = uvr_malloc(sizeof *d + (size_t)nread)) == NULL) {
    if (udp_receiver_waits(udp)) udp_recv_fail(udp, UVRUN_E_NOMEM, "out of memory: a datagram is dropped");
    udp_recv_flow(udp);
    return;
  }
  d->len = (size_t)nread;
  d->partial = (flags & UV_UDP_PARTIAL) != 0;
  memcpy(&d->from, addr, addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  if (nread > 0) memcpy(d->data, buf->base, (size_t)nread);
  udp->held = d;
  udp_receiver_check(udp);
  udp_recv_flow(udp);
}

/* ---- the receive future ---- */

/* The result is taken: the datagram is consumed, once; not when a later
 * receive took the receiver's place first. */
static void udp_recv_take(uvrun_future_t *fut) {
  udp_recv_state *r = udp_recv_of(fut);
  uvrun_udp_t *udp = r->udp;
  if (r->taken) return;
  r->taken = 1;
  if (udp->receiver != fut) return;
  udp->receiver = NULL;
  udp_held_drop(udp);
  udp_recv_flow(udp);
}

static int udp_recv_cancel(uvrun_future_t *fut, const char *msg) {
  uvrun_udp_t *udp = udp_recv_of(fut)->udp;
  int cancelled = uvr_future_cancel_plain(fut, msg);
  if (cancelled && udp->receiver == fut) {
    udp->receiver = NULL;
    udp_recv_flow(udp);
  }
  return cancelled;
}

static void udp_recv_free(uvrun_future_t *fut) {
  uvrun_udp_t *udp = udp_recv_of(fut)->udp;
  if (udp->receiver == fut) {
    udp->receiver = NULL; /* a held datagram waits for the next receive */
    udp_recv_flow(udp);
  }
  uvrun_udp_unref(udp);
}

static const uvr_io_kind udp_recv_kind = {"recv_from", udp_recv_cancel, udp_recv_free, udp_recv_take};

uvrun_future_t *uvrun_udp_recv_from(uvrun_udp_t *udp, void *buf, size_t cap) {
  uvrun_future_t *fut;
  udp_recv_state *r;
  if (uvr_udp_check_open(udp) < 0) return NULL;
  if (buf == NULL) {
    uvr_fail(UVRUN_E_INVAL, "recv_from: buf must not be NULL");
    return NULL;
  }
  if (udp_receiver_waits(udp)) {
    uvr_fail(UVRUN_E_READ_BUSY, "recv_from() called while another coroutine is already waiting for a datagram");
    return NULL;
  }
  if ((fut = uvr_io_future_new(udp->loop, &udp_recv_kind, sizeof(udp_recv_state))) == NULL) return NULL;
  r = udp_recv_of(fut);
  r->udp = uvrun_udp_ref(udp);
  r->buf = buf;
  r->cap = cap;
  /* A receive done but never taken consumed nothing, and now never will:
   * this one gets its datagram. */
  udp->receiver = fut;
  udp_receiver_check(udp);
  udp_recv_flow(udp);
  return fut;
}

int uvrun_udp_recv_address(const uvrun_future_t *recv, uvrun_address_t *addr) {
  if (recv == NULL || addr == NULL) return uvr_fail(UVRUN_E_INVAL, "recv_address: recv and addr must not be NULL");
  if (recv->kind != UVR_FUT_IO || uvr_io_future_kind(recv) != &udp_recv_kind)
    return uvr_fail(UVRUN_E_INVAL, "recv_address: the future is not a recv_from");
  if (recv->state != UVR_RESULT)
    return uvr_fail(UVRUN_E_INVALID_STATE, "recv_address: the receive has no datagram (pending or failed)");
  uvr_udp_address(addr, &udp_recv_of(recv)->from);
  return 0;
}

void uvr_udp_recv_close(uvrun_udp_t *udp) {
  if (udp_receiver_waits(udp)) udp_recv_fail(udp, UVRUN_E_STREAM_CLOSED, "the UDP socket is closed");
  udp->receiver = NULL;
  if (udp->receiving) uv_udp_recv_stop(&udp->uv);
  udp->receiving = 0;
  udp_held_drop(udp);
}
