/* http-libuv -- an HTTP/1.1 hello server on raw libuv and http-parser: the
 * floor under uvrun-http-hello. GET / answers "hello", anything else 404, a
 * request that does not parse 400 and close. Every read is parsed whole; its
 * answers go out in one uv_write (pipelined clients).
 *
 *   http-libuv [--host HOST] [--port PORT]
 *
 * Port 0 picks a free port; the first line on stdout is "listening on
 * HOST:PORT". SIGINT and SIGTERM end it (their default action). */
#include <http_parser.h>
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH 64

typedef struct {
  uv_tcp_t tcp;
  uv_shutdown_t shutdown;
  http_parser parser;
  char path[MAX_PATH];
  size_t path_len; /* MAX_PATH + 1 once the path is longer than that */
  char *out;       /* answers to the current read, not yet written */
  size_t out_len, out_cap;
  int close; /* the last answer ends the connection */
} conn_t;

typedef struct {
  uv_write_t req;
  char bytes[];
} reply_t;

#define KEEP_ALIVE "\r\n\r\n"
#define CLOSE "\r\nConnection: close\r\n\r\n"
#define HEAD(status, length) "HTTP/1.1 " status "\r\nContent-Type: text/plain\r\nContent-Length: " length

static void out_append(conn_t *c, const char *s) {
  size_t n = strlen(s);
  if (c->out_len + n > c->out_cap) {
    c->out_cap = c->out_cap ? 2 * c->out_cap : 4096;
    while (c->out_cap < c->out_len + n) c->out_cap *= 2;
    if (!(c->out = realloc(c->out, c->out_cap))) abort();
  }
  memcpy(c->out + c->out_len, s, n);
  c->out_len += n;
}

static int on_message_begin(http_parser *p) {
  ((conn_t *)p->data)->path_len = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  conn_t *c = p->data;
  if (c->path_len + n > MAX_PATH) {
    c->path_len = MAX_PATH + 1;
  } else {
    memcpy(c->path + c->path_len, at, n);
    c->path_len += n;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  size_t len = c->path_len <= MAX_PATH ? c->path_len : 0;
  const char *query = memchr(c->path, '?', len);
  if (query) len = (size_t)(query - c->path);
  int keep_alive = http_should_keep_alive(p);
  if (p->method == HTTP_GET && len == 1 && c->path[0] == '/')
    out_append(c, keep_alive ? HEAD("200 OK", "5") KEEP_ALIVE "hello" : HEAD("200 OK", "5") CLOSE "hello");
  else
    out_append(c, keep_alive ? HEAD("404 Not Found", "10") KEEP_ALIVE "not found\n"
                             : HEAD("404 Not Found", "10") CLOSE "not found\n");
  c->close = !keep_alive;
  /* Stop after a request that ends the connection: what follows is not ours. */
  return c->close;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  free(c->out);
  free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  uv_close((uv_handle_t *)req->handle, on_close);
}

static void on_write(uv_write_t *req, int status) {
  (void)status; /* a failed write shows up as a read error */
  free(req);
}

/* One thread, and every read is parsed before the next: one buffer serves
 * all connections. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char space[65536];
  (void)h, (void)suggested;
  *buf = uv_buf_init(space, sizeof space);
}

static void flush(conn_t *c) {
  if (c->out_len == 0) return;
  reply_t *r = malloc(sizeof *r + c->out_len);
  if (!r) abort();
  memcpy(r->bytes, c->out, c->out_len);
  uv_buf_t buf = uv_buf_init(r->bytes, (unsigned)c->out_len);
  c->out_len = 0;
  if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) free(r);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  size_t used = http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
  if (!c->close && (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->parser.upgrade || used != (size_t)n)) {
    out_append(c, HEAD("400 Bad Request", "12") CLOSE "bad request\n");
    c->close = 1;
  }
  flush(c);
  if (c->close) {
    uv_read_stop(s);
    if (uv_shutdown(&c->shutdown, s, on_shutdown) < 0) uv_close((uv_handle_t *)s, on_close);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) return;
  conn_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int usage(void) {
  fprintf(stderr, "usage: http-libuv [--host HOST] [--port PORT]\n");
  return 2;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "http-libuv: %s: %s\n", what, uv_strerror(rc));
  return 1;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = 0;
  for (int i = 1; i < argc; i += 2) {
    char *end;
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--host") == 0) {
      host = argv[i + 1];
    } else if (strcmp(argv[i], "--port") == 0) {
      port = strtol(argv[i + 1], &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) return usage();
    } else {
      return usage();
    }
  }
  struct sockaddr_storage addr;
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr) < 0 &&
      uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr) < 0) {
    fprintf(stderr, "http-libuv: not a numeric address: %s\n", host);
    return 1;
  }
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  int rc;
  uv_tcp_init(loop, &server);
  if ((rc = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) < 0) return fail("bind", rc);
  if ((rc = uv_listen((uv_stream_t *)&server, 511, on_connection)) < 0) return fail("listen", rc);
  int len = sizeof addr;
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  int bound = ntohs(addr.ss_family == AF_INET ? ((struct sockaddr_in *)&addr)->sin_port
                                              : ((struct sockaddr_in6 *)&addr)->sin6_port);
  printf("listening on %s:%d\n", host, bound);
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
