/* server.c -- V1, V4, V7 and U1's listen: a server's life. It binds its
 * listening sockets (every address a name resolves to; all interfaces on
 * one dual-stack socket; a Unix path or abstract name), reports its port,
 * stops listening on close() or when its last user goes, and counts its
 * connections. Taking connections is server_accept.c's.
 *
 * Two counts keep a server: its users (the caller's references and the
 * futures waiting on it), whose end stops the listening, and its memory
 * references, which listeners not yet closed and connections still open
 * hold too, so that their callbacks always find it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "server.h"

#define DEFAULT_BACKLOG 511 /* asyncio's and Node's */

void uvrun_server_opts_init(uvrun_server_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
  opts->reuse_address = 1;
  uvrun_stream_opts_init(&opts->stream);
}

static int opts_from(const uvrun_server_opts_t *given, uvrun_server_opts_t *opts) {
  uvrun_stream_opts_t stream;
  int covers_stream = given != NULL && given->size >= offsetof(uvrun_server_opts_t, stream) + sizeof stream.size;
  uvrun_server_opts_init(opts);
  if (given != NULL) {
    if (given->size < sizeof given->size)
      return uvr_fail(UVRUN_E_INVAL, "opts->size must be set (uvrun_server_opts_init)");
    memcpy(opts, given, given->size < sizeof *opts ? given->size : sizeof *opts);
    opts->size = sizeof *opts;
  }
  if (opts->backlog < 0) return uvr_fail(UVRUN_E_INVAL, "backlog must not be negative, not %d", (int)opts->backlog);
  if (opts->backlog == 0) opts->backlog = DEFAULT_BACKLOG;
  if (opts->reuse_address != 0 && opts->reuse_address != 1)
    return uvr_fail(UVRUN_E_INVAL, "reuse_address must be 0 or 1");
  if (opts->reuse_port != 0 && opts->reuse_port != 1) return uvr_fail(UVRUN_E_INVAL, "reuse_port must be 0 or 1");
  stream = opts->stream;
  return uvr_stream_opts_from(covers_stream ? &stream : NULL, &opts->stream);
}

/* ---- checks ---- */

int uvr_server_check(const uvrun_server_t *server) {
  if (server == NULL) return uvr_fail(UVRUN_E_INVAL, "server must not be NULL");
  return uvr_loop_check(server->loop);
}

int uvr_server_check_open(const uvrun_server_t *server) {
  int rc = uvr_server_check(server);
  if (rc == 0 && server->closed) rc = uvr_fail(UVRUN_E_STREAM_CLOSED, "the server is closed");
  return rc;
}

/* ---- life ---- */

static uvrun_server_t *server_new(uvrun_loop_t *loop, const uvrun_server_opts_t *opts, int is_tcp) {
  uvrun_server_t *server = uvr_calloc(1, sizeof *server);
  if (server == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  uvr_io_sigpipe_once();
  server->users = 1;
  server->refs = 1;
  server->loop = uvr_loop_ref(loop);
  server->opts = *opts;
  server->is_tcp = (uint8_t)is_tcp;
  server->next = loop->servers;
  if (loop->servers != NULL) loop->servers->prev = server;
  loop->servers = server;
  return server;
}

void uvr_server_mem_unref(uvrun_server_t *server) {
  uvrun_loop_t *loop = server->loop;
  if (--server->refs > 0) return;
  if (server->prev != NULL) server->prev->next = server->next;
  else loop->servers = server->next;
  if (server->next != NULL) server->next->prev = server->prev;
  uvrun_context_free(server->context);
  if (server->handler_ud_free != NULL) server->handler_ud_free(server->handler_ud);
  uvr_free(server->listeners);
  uvr_free(server->unix_path);
  uvr_free(server);
  uvr_loop_unref(loop);
}

static void listener_closed(uv_handle_t *handle) {
  uvr_listener *l = (uvr_listener *)handle;
  uvr_server_mem_unref(l->server);
  uvr_free(l);
}

/* A Unix socket file is removed with its server, unless another took the
 * path meanwhile (asyncio 3.13's cleanup_socket). */
static void remove_socket_file(uvrun_server_t *server) {
  struct stat st;
  if (server->unix_path == NULL) return;
  if (stat(server->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) && (uint64_t)st.st_ino == server->unix_ino)
    unlink(server->unix_path);
}

/* New clients are refused from here on (V4): the sockets close now. */
static void stop_listening(uvrun_server_t *server) {
  size_t i;
  server->closed = 1;
  server->listening = 0;
  for (i = 0; i < server->nlisteners; i++) {
    uvr_listener *l = server->listeners[i];
    uv_close((uv_handle_t *)&l->poll, listener_closed);
    close(l->fd); /* uv_close stopped the poll: nothing watches it now */
  }
  server->nlisteners = 0;
  remove_socket_file(server);
  uvr_server_accepts_close(server);
}

uvrun_server_t *uvrun_server_ref(uvrun_server_t *server) {
  if (server != NULL) server->users++;
  return server;
}

void uvrun_server_unref(uvrun_server_t *server) {
  if (server == NULL || --server->users > 0) return;
  if (!server->closed) stop_listening(server);
  uvr_server_mem_unref(server);
}

static void server_value_free(void *server) { uvrun_server_unref(server); }

int uvrun_server_close(uvrun_server_t *server) {
  if (server == NULL) return uvr_fail(UVRUN_E_INVAL, "server must not be NULL");
  if (!server->closed) stop_listening(server);
  return 0;
}

void uvr_servers_close_all(uvrun_loop_t *loop) {
  uvrun_server_t *server;
  for (server = loop->servers; server != NULL; server = server->next)
    if (!server->closed) stop_listening(server);
}

void uvr_servers_drop_all(uvrun_loop_t *loop) {
  uvrun_server_t *server, *next;
  uvr_servers_close_all(loop);
  for (server = loop->servers; server != NULL; server = next) {
    server->refs++; /* letting go of its connections may free it */
    uvr_server_conns_drop(server);
    next = server->next;
    uvr_server_mem_unref(server);
  }
}

/* ---- listening sockets ---- */

static int set_flag(int fd, int level, int name, int on) {
  return setsockopt(fd, level, name, &on, sizeof on) == 0 ? 0 : -errno;
}

/* Binds and listens on one more socket; 0 or a negative errno. v6only:
 * IPV6_V6ONLY for an IPv6 address (0: also IPv4, the dual-stack socket). */
static int listener_open(uvrun_server_t *server, const struct sockaddr *sa, socklen_t len, int v6only) {
  uvr_listener **grown, *l;
  int fd, rc = 0;

  grown = uvr_realloc(server->listeners, (server->nlisteners + 1) * sizeof *grown);
  if (grown == NULL) return UVRUN_E_NOMEM;
  server->listeners = grown;
  if ((l = uvr_calloc(1, sizeof *l)) == NULL) return UVRUN_E_NOMEM;
  fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    uvr_free(l);
    return -errno;
  }
  if (server->is_tcp) {
    if (server->opts.reuse_address) rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && server->opts.reuse_port) rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (rc == 0 && sa->sa_family == AF_INET6) rc = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
  }
  if (rc == 0 && bind(fd, sa, len) < 0) rc = -errno;
  if (rc == 0 && listen(fd, server->opts.backlog) < 0) rc = -errno;
  if (rc == 0) rc = uv_poll_init_socket(server->loop->uv, &l->poll, fd);
  if (rc < 0) {
    close(fd);
    uvr_free(l);
    return rc;
  }
  l->server = server;
  l->fd = fd;
  server->refs++;
  server->listeners[server->nlisteners++] = l;
  return 0;
}

/* The port the first socket got: port 0 asks the kernel for one (V1),
 * which the server's other sockets then share. */
static void note_port(uvrun_server_t *server) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (server->port != 0 || getsockname(server->listeners[0]->fd, (struct sockaddr *)&ss, &len) < 0) return;
  server->port =
      ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

static int bind_ip(uvrun_server_t *server, struct sockaddr_storage *ss, int v6only) {
  char where[80], text[128];
  int rc;
  if (server->port != 0) { /* the port the first address got */
    if (ss->ss_family == AF_INET6) ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)server->port);
    else ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)server->port);
  }
  rc = listener_open(server, (struct sockaddr *)ss,
                     ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), v6only);
  if (rc < 0) {
    uvr_address_name((struct sockaddr *)ss, where, sizeof where);
    return uvr_fail(rc, "listen on %s: %s", where, uvr_io_strerror(rc, text, sizeof text));
  }
  note_port(server);
  return 0;
}

/* NULL or "": every interface of both families on one socket, so port 0
 * gives one port; IPv4 alone where the system has no IPv6. */
static int bind_any(uvrun_server_t *server, int port) {
  struct sockaddr_storage ss;
  int rc;
  uv_ip6_addr("::", port, (struct sockaddr_in6 *)&ss);
  rc = bind_ip(server, &ss, 0);
  if (rc != -EAFNOSUPPORT) return rc;
  uv_ip4_addr("0.0.0.0", port, (struct sockaddr_in *)&ss);
  return bind_ip(server, &ss, 0);
}

static void listening(uvrun_server_t *server) {
  server->listening = 1;
  uvr_server_want(server);
}

/* A future already done with the server as its value. */
static uvrun_future_t *done_with(uvrun_server_t *server) {
  uvrun_future_t *fut;
  if (uvrun_future_new(server->loop, &fut) < 0) {
    uvrun_server_unref(server);
    return NULL;
  }
  uvrun_future_set_result(fut, server, server_value_free);
  return fut;
}

/* ---- listening on a name: after its lookup ---- */

typedef struct listen_op {
  uvrun_server_t *server; /* until it is the future's value */
  uvrun_future_t *lookup;
} listen_op;

static listen_op *listen_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static int listen_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) uvrun_future_cancel(listen_of(fut)->lookup, NULL);
  return uvr_future_cancel_plain(fut, msg);
}

static void listen_free(uvrun_future_t *fut) {
  listen_op *op = listen_of(fut);
  uvrun_future_unref(op->lookup);
  uvrun_server_unref(op->server);
}

static const uvr_io_kind listen_kind = {"listen", listen_cancel, listen_free, NULL};

/* V1: every address of the name, IPv6 ones IPv6-only (as asyncio) so that
 * they do not collide with the IPv4 ones. */
static int bind_all(uvrun_server_t *server, const uvrun_address_t *a) {
  struct sockaddr_storage ss;
  int rc = 0;
  for (; a != NULL && rc == 0; a = a->next) {
    memcpy(&ss, uvr_address_sockaddr(a), sizeof ss);
    rc = bind_ip(server, &ss, 1);
  }
  return rc;
}

static void listen_resolved(uvrun_future_t *lookup, void *ud) {
  uvrun_future_t *fut = ud;
  listen_op *op = listen_of(fut);
  void *addresses;
  if (!uvrun_future_done(fut)) {
    if (uvrun_future_result(lookup, &addresses) < 0) {
      uvrun_future_set_error(fut, uvrun_error_ref(uvrun_future_error(lookup)));
    } else if (bind_all(op->server, addresses) < 0) {
      uvrun_future_set_error(fut, uvr_error_make(uvr_last_code(), uvrun_errmsg()));
      stop_listening(op->server);
    } else {
      listening(op->server);
      uvrun_future_set_result(fut, op->server, server_value_free);
      op->server = NULL;
    }
  }
  uvrun_future_unref(op->lookup);
  op->lookup = NULL;
  uvrun_future_unref(fut);
}

static uvrun_future_t *listen_on_name(uvrun_server_t *server, const char *host, int port) {
  uvrun_future_t *fut = uvr_io_future_new(server->loop, &listen_kind, sizeof(listen_op));
  listen_op *op;
  char service[16];
  if (fut == NULL) {
    uvrun_server_unref(server);
    return NULL;
  }
  op = listen_of(fut);
  op->server = server;
  snprintf(service, sizeof service, "%d", port);
  op->lookup = uvr_getaddrinfo(server->loop, host, service, AF_UNSPEC, SOCK_STREAM, 0);
  if (op->lookup == NULL || uvr_future_add_done_callback_holding(op->lookup, listen_resolved, uvrun_future_ref(fut),
                                                                 uvr_io_future_drop) < 0) {
    if (op->lookup != NULL) uvrun_future_unref(fut); /* the callback's */
    uvrun_future_unref(fut);
    return NULL;
  }
  return fut;
}

/* ---- the API ---- */

uvrun_future_t *uvrun_tcp_listen(uvrun_loop_t *loop, const char *host, int port, const uvrun_server_opts_t *opts) {
  uvrun_server_opts_t o;
  struct sockaddr_storage ss;
  uvrun_server_t *server;
  if (uvr_io_check_loop(loop, "tcp_listen") < 0 || opts_from(opts, &o) < 0) return NULL;
  if (port < 0 || port > 65535) {
    uvr_fail(UVRUN_E_INVAL, "port must be 0..65535 (0: any free port), not %d", port);
    return NULL;
  }
  if ((server = server_new(loop, &o, 1)) == NULL) return NULL;
  if (host != NULL && *host != '\0' && uvr_parse_ip(host, port, &ss) != 0) return listen_on_name(server, host, port);
  if ((host == NULL || *host == '\0' ? bind_any(server, port) : bind_ip(server, &ss, 1)) < 0) {
    uvrun_server_unref(server);
    return NULL;
  }
  listening(server);
  return done_with(server);
}

/* asyncio's create_unix_server: a socket file left by an earlier run is
 * removed first; anything else at the path stays and bind fails. */
static void remove_stale_socket(const char *path) {
  struct stat st;
  if (path[0] != '@' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
}

uvrun_future_t *uvrun_unix_listen(uvrun_loop_t *loop, const char *path, const uvrun_server_opts_t *opts) {
  uvrun_server_opts_t o;
  struct sockaddr_un sun;
  uvrun_server_t *server;
  struct stat st;
  socklen_t len;
  char text[128];
  int rc;
  if (uvr_io_check_loop(loop, "unix_listen") < 0 || opts_from(opts, &o) < 0 || uvr_unix_address(path, &sun, &len) < 0)
    return NULL;
  if ((server = server_new(loop, &o, 0)) == NULL) return NULL;
  remove_stale_socket(path);
  if ((rc = listener_open(server, (struct sockaddr *)&sun, len, 0)) < 0) {
    uvr_fail(rc, "listen on %s: %s", path, uvr_io_strerror(rc, text, sizeof text));
    uvrun_server_unref(server);
    return NULL;
  }
  if (path[0] != '@' && stat(path, &st) == 0) {
    server->unix_path = uvr_strdup(path);
    server->unix_ino = (uint64_t)st.st_ino;
  }
  listening(server);
  return done_with(server);
}

int uvrun_server_port(const uvrun_server_t *server) {
  int rc = uvr_server_check(server);
  if (rc < 0) return rc;
  if (!server->is_tcp) return uvr_fail(UVRUN_E_INVAL, "a Unix server has no port");
  return server->port;
}

void uvr_server_where(const uvrun_server_t *server, char *buf, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  snprintf(buf, len, "?");
  if (server->nlisteners == 0 || getsockname(server->listeners[0]->fd, (struct sockaddr *)&ss, &sl) < 0) return;
  if (ss.ss_family == AF_UNIX) {
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
    snprintf(buf, len, "%s%s", sun->sun_path[0] == '\0' ? "@" : "", sun->sun_path + (sun->sun_path[0] == '\0'));
  } else {
    uvr_address_name((struct sockaddr *)&ss, buf, len);
  }
}

int uvrun_server_info(const uvrun_server_t *server, uvrun_server_info_t *info) {
  uvrun_server_info_t all;
  int rc = uvr_server_check(server);
  if (rc < 0) return rc;
  if ((rc = uvr_io_info_start(info != NULL ? &info->size : NULL, &all, sizeof all)) < 0) return rc;
  all.listening = server->listening;
  all.port = server->port;
  all.open = server->open;
  all.accepted = server->accepted;
  all.refused = server->refused;
  memcpy(info, &all, all.size);
  return 0;
}
