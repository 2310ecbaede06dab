/* udp.c -- G1: a UDP socket's life (bound, connected, closed, dropped),
 * its options, and sending.
 *
 * The uv handle lives inside the socket. The loop's list of open sockets
 * keeps the memory until the handle's close callback has run, so a late
 * libuv callback (a queued send cancelled by the close) never touches freed
 * memory (L3); after that the caller's references and those of waiting
 * futures keep it.
 *
 * A send never waits: uv_udp_try_send gives the datagram to the kernel at
 * once when nothing is queued ahead of it; otherwise (the socket's buffer
 * is full) a copy goes into libuv's queue, which sends in call order. */
#include <stdio.h>
#include <string.h>

#include "udp.h"

/* ---- options, checks ---- */

void uvrun_udp_opts_init(uvrun_udp_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
  opts->family = AF_INET;
}

static int udp_opts_from(const uvrun_udp_opts_t *given, uvrun_udp_opts_t *opts) {
  uvrun_udp_opts_init(opts);
  if (given != NULL) {
    if (given->size < sizeof given->size)
      return uvr_fail(UVRUN_E_INVAL, "opts->size must be set (uvrun_udp_opts_init)");
    memcpy(opts, given, given->size < sizeof *opts ? given->size : sizeof *opts);
    opts->size = sizeof *opts;
  }
  if (opts->family == 0) opts->family = AF_INET;
  if (opts->family != AF_INET && opts->family != AF_INET6)
    return uvr_fail(UVRUN_E_INVAL, "family must be AF_INET or AF_INET6, not %d", (int)opts->family);
  if ((opts->reuse_address | opts->ipv6_only | opts->broadcast) & ~1)
    return uvr_fail(UVRUN_E_INVAL, "reuse_address, ipv6_only and broadcast must be 0 or 1");
  return 0;
}

int uvr_udp_check(const uvrun_udp_t *udp) {
  if (udp == NULL) return uvr_fail(UVRUN_E_INVAL, "udp must not be NULL");
  if (uvr_loop_on_wrong_thread(udp->loop))
    return uvr_fail(UVRUN_E_WRONG_THREAD, "a UDP socket is used from a thread other than its loop's");
  return 0;
}

int uvr_udp_check_open(const uvrun_udp_t *udp) {
  int rc = uvr_udp_check(udp);
  if (rc == 0 && udp->closing) rc = uvr_fail(UVRUN_E_STREAM_CLOSED, "the UDP socket is closed");
  return rc;
}

/* host:port as a socket address: numeric, port in range (and not 0 when
 * it names a peer); NULL or "" is any address of `family`. */
static int udp_address_of(const char *host, int port, int family, int is_peer, struct sockaddr_storage *sa) {
  if (port < (is_peer ? 1 : 0) || port > 65535)
    return uvr_fail(UVRUN_E_INVAL, "port must be %d-65535, not %d", is_peer ? 1 : 0, port);
  if (host == NULL || host[0] == '\0') {
    if (is_peer) return uvr_fail(UVRUN_E_INVAL, "a peer's host must not be empty");
    host = family == AF_INET6 ? "::" : "0.0.0.0";
  }
  if (uvr_parse_ip(host, port, sa) < 0)
    return uvr_fail(UVRUN_E_INVAL, "\"%s\" is not a numeric IPv4 or IPv6 address (look names up with getaddrinfo)",
                    host);
  return 0;
}

void uvr_udp_address(uvrun_address_t *addr, const struct sockaddr_storage *ss) {
  memset(addr, 0, sizeof *addr);
  addr->family = ss->ss_family;
  addr->socktype = SOCK_DGRAM;
  addr->protocol = IPPROTO_UDP;
  uv_ip_name((const struct sockaddr *)ss, addr->host, sizeof addr->host);
  addr->port = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                               : ((const struct sockaddr_in *)ss)->sin_port);
}

/* ---- making one ---- */

static void udp_on_close(uv_handle_t *handle);

static uvrun_udp_t *udp_new(uvrun_loop_t *loop) {
  uvrun_udp_t *udp = uvr_calloc(1, sizeof *udp);
  int rc;
  if (udp == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  if ((rc = uv_udp_init(loop->uv, &udp->uv)) < 0) {
    uvr_free(udp);
    uvr_fail(rc, "cannot make a UDP socket: %s", uv_strerror(rc));
    return NULL;
  }
  udp->refs = 1;
  udp->loop = uvr_loop_ref(loop);
  udp->next = loop->udps;
  if (loop->udps != NULL) loop->udps->prev = udp;
  loop->udps = udp;
  return udp;
}

int uvrun_udp_bind(uvrun_loop_t *loop, const char *host, int port, const uvrun_udp_opts_t *opts, uvrun_udp_t **out) {
  uvrun_udp_opts_t o;
  struct sockaddr_storage sa;
  uvrun_udp_t *udp;
  char name[80];
  unsigned flags;
  int rc;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "udp_bind: out must not be NULL");
  *out = NULL;
  if ((rc = uvr_io_check_loop(loop, "udp_bind")) < 0 || (rc = udp_opts_from(opts, &o)) < 0 ||
      (rc = udp_address_of(host, port, o.family, 0, &sa)) < 0)
    return rc;
  if ((udp = udp_new(loop)) == NULL) return uvr_last_code();
  flags = (o.reuse_address ? UV_UDP_REUSEADDR : 0) | (o.ipv6_only ? UV_UDP_IPV6ONLY : 0);
  if ((rc = uv_udp_bind(&udp->uv, (const struct sockaddr *)&sa, flags)) < 0 ||
      (o.broadcast && (rc = uv_udp_set_broadcast(&udp->uv, 1)) < 0)) {
    udp->closing = 1;
    udp->refs = 0;
    uv_close((uv_handle_t *)&udp->uv, udp_on_close);
    uvr_address_name((const struct sockaddr *)&sa, name, sizeof name);
    return uvr_fail(rc, "cannot bind a UDP socket to %s: %s", name, uv_strerror(rc));
  }
  *out = udp;
  return 0;
}

int uvrun_udp_connect(uvrun_udp_t *udp, const char *host, int port) {
  struct sockaddr_storage sa;
  char name[80];
  int rc = uvr_udp_check_open(udp);
  if (rc < 0 || (rc = udp_address_of(host, port, 0, 1, &sa)) < 0) return rc;
  if (udp->connected) return uvr_fail(UVRUN_E_INVALID_STATE, "the UDP socket is connected already");
  if ((rc = uv_udp_connect(&udp->uv, (const struct sockaddr *)&sa)) < 0) {
    uvr_address_name((const struct sockaddr *)&sa, name, sizeof name);
    return uvr_fail(rc, "cannot connect a UDP socket to %s: %s", name, uv_strerror(rc));
  }
  udp->connected = 1;
  return 0;
}

/* ---- references ---- */

uvrun_udp_t *uvrun_udp_ref(uvrun_udp_t *udp) {
  if (udp != NULL) udp->refs++;
  return udp;
}

static void udp_free(uvrun_udp_t *udp) {
  uvr_loop_unref(udp->loop);
  uvr_free(udp);
}

/* Closes at once: queued sends are cancelled (their callbacks run before
 * the close callback). */
static void udp_abort(uvrun_udp_t *udp) {
  udp->closing = 1;
  uvr_udp_recv_close(udp);
  if (!uv_is_closing((uv_handle_t *)&udp->uv)) uv_close((uv_handle_t *)&udp->uv, udp_on_close);
}

void uvrun_udp_unref(uvrun_udp_t *udp) {
  if (udp == NULL || --udp->refs > 0) return;
  if (!udp->closing) udp_abort(udp); /* the close callback frees it */
  else if (udp->closed) udp_free(udp);
}

uvrun_loop_t *uvrun_udp_loop(const uvrun_udp_t *udp) { return udp != NULL ? udp->loop : NULL; }

/* ---- closing ---- */

static void udp_on_close(uv_handle_t *handle) {
  uvrun_udp_t *udp = (uvrun_udp_t *)handle;
  udp->closed = 1;
  if (udp->prev != NULL) udp->prev->next = udp->next;
  else udp->loop->udps = udp->next;
  if (udp->next != NULL) udp->next->prev = udp->prev;
  if (udp->refs == 0) udp_free(udp);
}

int uvrun_udp_close(uvrun_udp_t *udp) {
  int rc = uvr_udp_check(udp);
  if (rc < 0 || udp->closing) return rc;
  udp->closing = 1;
  uvr_udp_recv_close(udp);
  /* What is queued goes first: the last send's callback closes. */
  if (udp->sends_out == 0) uv_close((uv_handle_t *)&udp->uv, udp_on_close);
  return 0;
}

int uvr_udp_close_all(uvrun_loop_t *loop) {
  uvrun_udp_t *udp;
  int any = 0;
  for (udp = loop->udps; udp != NULL; udp = udp->next) {
    if (uv_is_closing((uv_handle_t *)&udp->uv)) continue;
    udp_abort(udp);
    any = 1;
  }
  return any;
}

/* ---- sending ---- */

typedef struct udp_send_req {
  uv_udp_send_t req;
  uvrun_udp_t *udp;
  size_t len;
  char data[];
} udp_send_req;

static void udp_on_send(uv_udp_send_t *req, int status) {
  udp_send_req *s = (udp_send_req *)req;
  uvrun_udp_t *udp = s->udp;
  char msg[128];
  udp->send_queued -= s->len;
  udp->sends_out--;
  uvr_free(s);
  if (status == 0) udp->sent++;
  else if (status != UV_ECANCELED && udp->send_err == 0) udp->send_err = status;
  if (udp->sends_out > 0) return;
  if (udp->send_err != 0 && udp->drains.head != NULL) {
    uvr_waiters_settle(&udp->drains, udp->send_err, uvr_io_failure("send", udp->send_err, msg, sizeof msg));
    udp->send_err = 0;
  }
  uvr_waiters_settle(&udp->drains, 0, NULL);
  if (udp->closing && !uv_is_closing((uv_handle_t *)&udp->uv)) uv_close((uv_handle_t *)&udp->uv, udp_on_close);
}

/* A queued send's failure, reported once. */
static int udp_take_send_error(uvrun_udp_t *udp) {
  int code = udp->send_err;
  char msg[128];
  udp->send_err = 0;
  return uvr_fail(code, "%s", uvr_io_failure("send", code, msg, sizeof msg));
}

static int udp_send_datagram(uvrun_udp_t *udp, const void *data, size_t n, const struct sockaddr *to) {
  uv_buf_t buf;
  udp_send_req *s;
  char msg[128];
  int rc;
  if (n > UINT32_MAX) return uvr_fail(UV_EMSGSIZE, "a datagram of %zu bytes is too long", n);
  if (udp->send_err != 0) return udp_take_send_error(udp);
  buf = uv_buf_init((char *)data, (unsigned)n);
  rc = uv_udp_try_send(&udp->uv, &buf, 1, to);
  if (rc >= 0) {
    udp->sent++;
    return 0;
  }
  if (rc != UV_EAGAIN) return uvr_fail(rc, "%s", uvr_io_failure("send", rc, msg, sizeof msg));
  /* The socket's buffer is full, or sends are queued ahead: a copy waits. */
  if ((s = uvr_malloc(sizeof *s + n)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  s->udp = udp;
  s->len = n;
  if (n > 0) memcpy(s->data, data, n);
  buf = uv_buf_init(s->data, (unsigned)n);
  if ((rc = uv_udp_send(&s->req, &udp->uv, &buf, 1, to, udp_on_send)) < 0) {
    uvr_free(s);
    return uvr_fail(rc, "%s", uvr_io_failure("send", rc, msg, sizeof msg));
  }
  udp->send_queued += n;
  udp->sends_out++;
  return 0;
}

static int udp_send_check(const uvrun_udp_t *udp, const void *data, size_t n) {
  int rc = uvr_udp_check_open(udp);
  if (rc == 0 && data == NULL && n > 0) rc = uvr_fail(UVRUN_E_INVAL, "data must not be NULL");
  return rc;
}

int uvrun_udp_send_to(uvrun_udp_t *udp, const void *data, size_t n, const uvrun_address_t *to) {
  struct sockaddr_storage sa;
  int rc = udp_send_check(udp, data, n);
  if (rc < 0) return rc;
  if (to == NULL) return uvr_fail(UVRUN_E_INVAL, "send_to: the address must not be NULL");
  if (udp->connected)
    return uvr_fail(UV_EISCONN, "send_to on a connected UDP socket: use send, which goes to its peer");
  if ((rc = udp_address_of(to->host, to->port, 0, 1, &sa)) < 0) return rc;
  return udp_send_datagram(udp, data, n, (const struct sockaddr *)&sa);
}

int uvrun_udp_send(uvrun_udp_t *udp, const void *data, size_t n) {
  int rc = udp_send_check(udp, data, n);
  if (rc < 0) return rc;
  if (!udp->connected)
    return uvr_fail(UV_EDESTADDRREQ, "send on a UDP socket that is not connected: use send_to with an address");
  return udp_send_datagram(udp, data, n, NULL);
}

static void udp_release(void *udp) { uvrun_udp_unref(udp); }

uvrun_future_t *uvrun_udp_drain(uvrun_udp_t *udp) {
  uvrun_future_t *fut;
  if (uvr_udp_check_open(udp) < 0) return NULL;
  if (udp->send_err != 0) {
    int code = udp_take_send_error(udp);
    if (uvrun_future_new(udp->loop, &fut) < 0) return NULL;
    uvrun_future_set_error_code(fut, code, uvrun_errmsg());
    return fut;
  }
  if (udp->sends_out == 0) return uvr_future_new_done(udp->loop);
  return uvr_waiter_new_on(udp->loop, &udp->drains, uvrun_udp_ref(udp), udp_release);
}

/* ---- multicast, broadcast ---- */

static int udp_membership(uvrun_udp_t *udp, const char *group, const char *iface, uv_membership how) {
  const char *what = how == UV_JOIN_GROUP ? "join" : "leave";
  int rc = uvr_udp_check_open(udp);
  if (rc < 0) return rc;
  if (group == NULL) return uvr_fail(UVRUN_E_INVAL, "%s: the group must not be NULL", what);
  if ((rc = uv_udp_set_membership(&udp->uv, group, iface, how)) < 0)
    return uvr_fail(rc, "cannot %s multicast group %s%s%s: %s", what, group, iface != NULL ? " on " : "",
                    iface != NULL ? iface : "", uv_strerror(rc));
  return 0;
}

int uvrun_udp_join(uvrun_udp_t *udp, const char *group, const char *iface) {
  return udp_membership(udp, group, iface, UV_JOIN_GROUP);
}

int uvrun_udp_leave(uvrun_udp_t *udp, const char *group, const char *iface) {
  return udp_membership(udp, group, iface, UV_LEAVE_GROUP);
}

int uvrun_udp_set_multicast_loop(uvrun_udp_t *udp, int on) {
  int rc = uvr_udp_check_open(udp);
  if (rc < 0) return rc;
  if (on != 0 && on != 1) return uvr_fail(UVRUN_E_INVAL, "multicast loop must be 0 or 1, not %d", on);
  if ((rc = uv_udp_set_multicast_loop(&udp->uv, on)) < 0)
    return uvr_fail(rc, "cannot set the multicast loop: %s", uv_strerror(rc));
  return 0;
}

int uvrun_udp_set_multicast_ttl(uvrun_udp_t *udp, int ttl) {
  int rc = uvr_udp_check_open(udp);
  if (rc < 0) return rc;
  if (ttl < 1 || ttl > 255) return uvr_fail(UVRUN_E_INVAL, "multicast ttl must be 1-255, not %d", ttl);
  if ((rc = uv_udp_set_multicast_ttl(&udp->uv, ttl)) < 0)
    return uvr_fail(rc, "cannot set the multicast ttl: %s", uv_strerror(rc));
  return 0;
}

/* ---- addresses, info ---- */

static int udp_name(const uvrun_udp_t *udp, uvrun_address_t *addr, int peer) {
  struct sockaddr_storage ss;
  int len = sizeof ss, rc = uvr_udp_check_open(udp);
  if (rc < 0) return rc;
  if (addr == NULL) return uvr_fail(UVRUN_E_INVAL, "addr must not be NULL");
  rc = peer ? uv_udp_getpeername(&udp->uv, (struct sockaddr *)&ss, &len)
            : uv_udp_getsockname(&udp->uv, (struct sockaddr *)&ss, &len);
  if (rc < 0)
    return uvr_fail(rc, "cannot get the UDP socket's %s address: %s", peer ? "peer" : "local", uv_strerror(rc));
  uvr_udp_address(addr, &ss);
  return 0;
}

int uvrun_udp_sockname(const uvrun_udp_t *udp, uvrun_address_t *addr) { return udp_name(udp, addr, 0); }

int uvrun_udp_peername(const uvrun_udp_t *udp, uvrun_address_t *addr) { return udp_name(udp, addr, 1); }

int uvrun_udp_info(const uvrun_udp_t *udp, uvrun_udp_info_t *info) {
  uvrun_udp_info_t all;
  uv_os_fd_t fd;
  int rc = uvr_udp_check(udp);
  if (rc < 0) return rc;
  if ((rc = uvr_io_info_start(info != NULL ? &info->size : NULL, &all, sizeof all)) < 0) return rc;
  all.fd = !udp->closing && uv_fileno((const uv_handle_t *)&udp->uv, &fd) == 0 ? fd : -1;
  all.closed = udp->closing;
  all.connected = udp->connected;
  all.send_queued = udp->send_queued;
  all.sent = udp->sent;
  all.received = udp->received;
  memcpy(info, &all, all.size);
  return 0;
}
