/* dns.c -- name lookups (N1, N2) on the loop's own executor.
 *
 * getaddrinfo() blocks for as long as the resolver takes. libuv runs it on
 * its process-wide pool of four threads, where slow lookups stall every file
 * operation of the process (libuv#28): here each lookup is one job on the
 * loop's executor instead.
 *
 * A lookup's request lives apart from its future, shared by the job and the
 * future (atomic refs), because the job must never touch the future: it may
 * be gone by the time the resolver returns. Cancelling the future marks the
 * request, and a job that starts after that returns at once without calling
 * the resolver; one already in the resolver finishes, and its result is freed
 * with the request. A lookup is an I/O job: a runner's close cancels it while
 * it is still queued (L1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <sys/socket.h>

#include "io.h"

/* One address of a result: what the caller walks, and the socket address
 * connect and listen use as is. */
typedef struct uvr_address {
  uvrun_address_t pub; /* first: a list entry is the whole */
  struct sockaddr_storage sa;
} uvr_address;

typedef struct lookup_req {
  atomic_int refs;      /* the future's and the job's */
  atomic_int cancelled; /* nobody waits for the result any more */
  int (*run)(struct lookup_req *lk);
  void *result; /* the future's value, freed with the request */
  /* getaddrinfo */
  char *host, *service;
  int family, socktype, flags;
  /* getnameinfo */
  struct sockaddr_storage sa;
  int ni_flags;
} lookup_req;

static void lookup_unref(lookup_req *lk) {
  if (atomic_fetch_sub_explicit(&lk->refs, 1, memory_order_acq_rel) != 1) return;
  uvr_free(lk->host);
  uvr_free(lk->service);
  uvr_free(lk->result);
  uvr_free(lk);
}

/* libuv's own mapping (uv__getaddrinfo_translate_error) is not exported. */
static int eai_code(int eai) {
  switch (eai) {
  case EAI_ADDRFAMILY: return UV_EAI_ADDRFAMILY;
  case EAI_AGAIN: return UV_EAI_AGAIN;
  case EAI_BADFLAGS: return UV_EAI_BADFLAGS;
  case EAI_CANCELED: return UV_EAI_CANCELED;
  case EAI_FAMILY: return UV_EAI_FAMILY;
  case EAI_MEMORY: return UV_EAI_MEMORY;
  case EAI_NODATA: return UV_EAI_NODATA;
  case EAI_NONAME: return UV_EAI_NONAME;
  case EAI_OVERFLOW: return UV_EAI_OVERFLOW;
  case EAI_SERVICE: return UV_EAI_SERVICE;
  case EAI_SOCKTYPE: return UV_EAI_SOCKTYPE;
  case EAI_SYSTEM: return errno != 0 ? -errno : UV_EAI_FAIL;
  default: return UV_EAI_FAIL;
  }
}

static int lookup_failed(const char *what, const char *name, int code) {
  char text[128];
  return uvr_fail(code, "%s(\"%s\"): %s", what, name, uv_strerror_r(code, text, sizeof text));
}

/* Numeric text and port of a socket address. */
static void address_fill(uvrun_address_t *a, const struct sockaddr *sa, socklen_t len) {
  char port[16];
  if (getnameinfo(sa, len, a->host, sizeof a->host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    a->host[0] = port[0] = '\0';
  a->family = sa->sa_family;
  a->port = (int32_t)strtol(port, NULL, 10);
}

/* Runs on a worker: the whole list in one block (N2: freed at once). */
static int run_getaddrinfo(lookup_req *lk) {
  struct addrinfo hints, *res, *ai;
  uvr_address *list;
  size_t n = 0, i = 0;
  int eai;

  memset(&hints, 0, sizeof hints);
  hints.ai_family = lk->family;
  hints.ai_socktype = lk->socktype;
  hints.ai_flags = lk->flags;
  errno = 0;
  eai = getaddrinfo(lk->host, lk->service, &hints, &res);
  if (eai != 0) return lookup_failed("getaddrinfo", lk->host != NULL ? lk->host : lk->service, eai_code(eai));
  for (ai = res; ai != NULL; ai = ai->ai_next)
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) n++;
  list = n > 0 ? uvr_calloc(n, sizeof *list) : NULL;
  if (list == NULL) {
    freeaddrinfo(res);
    if (n == 0) return lookup_failed("getaddrinfo", lk->host != NULL ? lk->host : lk->service, UV_EAI_NODATA);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    memcpy(&list[i].sa, ai->ai_addr, ai->ai_addrlen);
    address_fill(&list[i].pub, ai->ai_addr, ai->ai_addrlen);
    list[i].pub.socktype = ai->ai_socktype;
    list[i].pub.protocol = ai->ai_protocol;
    list[i].pub.next = i + 1 < n ? &list[i + 1].pub : NULL;
    i++;
  }
  freeaddrinfo(res);
  lk->result = list;
  return 0;
}

static socklen_t sockaddr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int run_getnameinfo(lookup_req *lk) {
  char *out = uvr_malloc(NI_MAXHOST + NI_MAXSERV);
  const struct sockaddr *sa = (const struct sockaddr *)&lk->sa;
  size_t n;
  int eai;
  if (out == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  errno = 0;
  eai = getnameinfo(sa, sockaddr_len(sa), out, NI_MAXHOST, out + NI_MAXHOST, NI_MAXSERV, lk->ni_flags);
  if (eai != 0) {
    int code = eai_code(eai); /* before another call changes errno */
    uvrun_address_t a;
    uvr_free(out);
    address_fill(&a, sa, sockaddr_len(sa));
    return lookup_failed("getnameinfo", a.host, code);
  }
  /* "host\0service", packed. */
  n = strlen(out) + 1;
  memmove(out + n, out + NI_MAXHOST, strlen(out + NI_MAXHOST) + 1);
  lk->result = out;
  return 0;
}

static int lookup_job(void *ud, void **result) {
  lookup_req *lk = ud;
  int rc = 0;
  if (!atomic_load_explicit(&lk->cancelled, memory_order_acquire)) rc = lk->run(lk);
  *result = lk->result;
  lookup_unref(lk);
  return rc;
}

/* ---- the future ---- */

static lookup_req **lookup_slot(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static int lookup_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) atomic_store_explicit(&(*lookup_slot(fut))->cancelled, 1, memory_order_release);
  return uvr_future_cancel_plain(fut, msg);
}

static void lookup_free(uvrun_future_t *fut) {
  lookup_req *lk = *lookup_slot(fut);
  atomic_store_explicit(&lk->cancelled, 1, memory_order_release);
  lookup_unref(lk);
}

static const uvr_io_kind getaddrinfo_kind = {"getaddrinfo", lookup_cancel, lookup_free, NULL};
static const uvr_io_kind getnameinfo_kind = {"getnameinfo", lookup_cancel, lookup_free, NULL};

/* Takes over lk (its creator's reference): the job gets one more. */
static uvrun_future_t *lookup_submit(uvrun_loop_t *loop, lookup_req *lk, const uvr_io_kind *kind) {
  uvrun_future_t *fut = uvr_io_future_new(loop, kind, sizeof(lookup_req *));
  if (fut == NULL) {
    lookup_unref(lk);
    return NULL;
  }
  *lookup_slot(fut) = lk;
  atomic_init(&lk->refs, 2);
  if (uvr_executor_submit_io(loop, lookup_job, lk, fut) < 0) {
    atomic_store_explicit(&lk->refs, 1, memory_order_relaxed);
    uvrun_future_unref(fut);
    return NULL;
  }
  return fut;
}

uvrun_future_t *uvr_getaddrinfo(uvrun_loop_t *loop, const char *host, const char *service, int family, int socktype,
                                int flags) {
  lookup_req *lk = uvr_calloc(1, sizeof *lk);
  if (lk == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  atomic_init(&lk->refs, 1);
  lk->run = run_getaddrinfo;
  lk->host = host != NULL ? uvr_strdup(host) : NULL;
  lk->service = service != NULL ? uvr_strdup(service) : NULL;
  lk->family = family;
  lk->socktype = socktype;
  lk->flags = flags;
  if ((host != NULL && lk->host == NULL) || (service != NULL && lk->service == NULL)) {
    lookup_unref(lk);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  return lookup_submit(loop, lk, &getaddrinfo_kind);
}

const struct sockaddr *uvr_address_sockaddr(const uvrun_address_t *a) {
  return (const struct sockaddr *)&((const uvr_address *)a)->sa;
}

uvrun_future_t *uvrun_getaddrinfo(uvrun_loop_t *loop, const char *host, const char *service, int family, int socktype) {
  if (uvr_io_check_loop(loop, "getaddrinfo") < 0) return NULL;
  if (host == NULL && service == NULL) {
    uvr_fail(UVRUN_E_INVAL, "getaddrinfo: host and service must not both be NULL");
    return NULL;
  }
  if (family != 0 && family != AF_INET && family != AF_INET6) {
    uvr_fail(UVRUN_E_INVAL, "getaddrinfo: family must be 0, AF_INET or AF_INET6, not %d", family);
    return NULL;
  }
  return uvr_getaddrinfo(loop, host, service, family, socktype, 0);
}

uvrun_future_t *uvrun_getnameinfo(uvrun_loop_t *loop, const char *host, int port, int flags) {
  lookup_req *lk;
  if (uvr_io_check_loop(loop, "getnameinfo") < 0) return NULL;
  if (port < 0 || port > 65535) {
    uvr_fail(UVRUN_E_INVAL, "getnameinfo: port must be 0..65535, not %d", port);
    return NULL;
  }
  if ((lk = uvr_calloc(1, sizeof *lk)) == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  if (uvr_parse_ip(host, port, &lk->sa) < 0) {
    uvr_free(lk);
    uvr_fail(UVRUN_E_INVAL, "getnameinfo: \"%s\" is not a numeric address", host != NULL ? host : "(null)");
    return NULL;
  }
  atomic_init(&lk->refs, 1);
  lk->run = run_getnameinfo;
  lk->ni_flags = flags;
  return lookup_submit(loop, lk, &getnameinfo_kind);
}
