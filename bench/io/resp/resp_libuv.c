/* resp-libuv -- the RESP server of W8 on raw libuv: uv_listen, uv_read_start,
 * uv_write; the floor under uvrun-resp-server, with the same commands (PING,
 * ECHO, GET, SET, DEL, EXISTS, INCR, QUIT, CONFIG GET).
 *
 *   resp-libuv [--host HOST] [--port PORT]
 *
 * Every complete command in a read is run, and the replies go out in one
 * write; replies made while that write is in flight go out after it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define MAX_BULK (512u << 20)
#define MAX_INLINE (64u << 10)
#define MAX_ARGS 1024

typedef struct {
  char *p;
  size_t n, cap;
} buf_t;

typedef struct {
  const char *p;
  size_t n;
} arg_t;

typedef struct {
  uv_tcp_t tcp;
  uv_write_t req;
  buf_t in, out, sending; /* sending: the bytes of the write in flight */
  int quit;
} conn_t;

/* The store: open addressing with linear probing; kv holds key then value. */
typedef struct {
  char *kv;
  size_t klen, vlen;
  uint64_t hash;
} slot_t;

static slot_t *table;
static size_t mask = 1023, count;

static uint64_t hash_of(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  while (n--) h = (h ^ (unsigned char)*p++) * 1099511628211ull;
  return h;
}

static size_t find(const char *key, size_t klen, uint64_t h) {
  size_t i = h & mask;
  while (table[i].kv != NULL && (table[i].hash != h || table[i].klen != klen || memcmp(table[i].kv, key, klen) != 0))
    i = (i + 1) & mask;
  return i;
}

static void grow(void) {
  slot_t *old = table;
  size_t i, n = mask + 1;
  table = calloc(2 * n, sizeof *table);
  mask = 2 * n - 1;
  for (i = 0; i < n; i++)
    if (old[i].kv != NULL) table[find(old[i].kv, old[i].klen, old[i].hash)] = old[i];
  free(old);
}

static void store_set(arg_t key, arg_t val) {
  uint64_t h = hash_of(key.p, key.n);
  size_t i = find(key.p, key.n, h);
  char *kv = malloc(key.n + val.n + 1);
  memcpy(kv, key.p, key.n);
  memcpy(kv + key.n, val.p, val.n);
  if (table[i].kv == NULL) count++;
  free(table[i].kv);
  table[i] = (slot_t){kv, key.n, val.n, h};
  if (2 * count > mask) grow();
}

static slot_t *store_get(arg_t key) {
  slot_t *s = &table[find(key.p, key.n, hash_of(key.p, key.n))];
  return s->kv != NULL ? s : NULL;
}

/* Deletion shifts later entries of the probe run back, so no tombstones. */
static int store_del(arg_t key) {
  size_t i = find(key.p, key.n, hash_of(key.p, key.n)), j;
  if (table[i].kv == NULL) return 0;
  free(table[i].kv);
  table[i].kv = NULL;
  for (j = (i + 1) & mask; table[j].kv != NULL; j = (j + 1) & mask)
    if (((j - table[j].hash) & mask) >= ((j - i) & mask)) {
      table[i] = table[j];
      table[j].kv = NULL;
      i = j;
    }
  count--;
  return 1;
}

static void put(buf_t *b, const void *p, size_t n) {
  if (b->cap - b->n < n) {
    while (b->cap - b->n < n) b->cap = b->cap ? 2 * b->cap : 4096;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void putf(buf_t *b, const char *fmt, ...) {
  char line[128];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void put_bulk(buf_t *b, const char *p, size_t n) {
  putf(b, "$%zu\r\n", n);
  put(b, p, n);
  put(b, "\r\n", 2);
}

static int is(arg_t a, const char *name) { return a.n == strlen(name) && strncasecmp(a.p, name, a.n) == 0; }

/* Runs one command, its reply into out; 1 when the connection must end. */
static int run(arg_t *a, size_t argc, buf_t *out) {
  slot_t *s;
  if (argc == 0) return 0;
  if (is(a[0], "ping") && argc <= 2) {
    if (argc == 2) put_bulk(out, a[1].p, a[1].n);
    else put(out, "+PONG\r\n", 7);
  } else if (is(a[0], "echo") && argc == 2) {
    put_bulk(out, a[1].p, a[1].n);
  } else if (is(a[0], "get") && argc == 2) {
    if ((s = store_get(a[1])) != NULL) put_bulk(out, s->kv + s->klen, s->vlen);
    else put(out, "$-1\r\n", 5);
  } else if (is(a[0], "set") && argc == 3) {
    store_set(a[1], a[2]);
    put(out, "+OK\r\n", 5);
  } else if ((is(a[0], "del") || is(a[0], "exists")) && argc >= 2) {
    long long n = 0;
    for (size_t i = 1; i < argc; i++) n += is(a[0], "del") ? store_del(a[i]) : store_get(a[i]) != NULL;
    putf(out, ":%lld\r\n", n);
  } else if (is(a[0], "incr") && argc == 2) {
    char text[24] = "0", *end;
    long long v;
    if ((s = store_get(a[1])) != NULL && s->vlen > 0 && s->vlen < sizeof text) {
      memcpy(text, s->kv + s->klen, s->vlen);
      text[s->vlen] = '\0';
    }
    errno = 0;
    v = strtoll(text, &end, 10);
    if ((s != NULL && (s->vlen == 0 || s->vlen >= sizeof text)) || *end != '\0' || errno != 0 || v == INT64_MAX) {
      putf(out, "-ERR value is not an integer or out of range\r\n");
    } else {
      int n = snprintf(text, sizeof text, "%lld", ++v);
      store_set(a[1], (arg_t){text, (size_t)n});
      putf(out, ":%lld\r\n", v);
    }
  } else if (is(a[0], "quit")) {
    put(out, "+OK\r\n", 5);
    return 1;
  } else if (is(a[0], "config") && argc == 3 && is(a[1], "get")) {
    put(out, "*0\r\n", 4); /* redis-benchmark asks at start-up */
  } else {
    putf(out, "-ERR unknown command or wrong number of arguments for '%.*s'\r\n", (int)(a[0].n < 32 ? a[0].n : 32),
         a[0].p);
  }
  return 0;
}

/* The number (0 to limit) on the "*N" or "$N" line at *p: 1 and *p past
 * the line, 0 while incomplete, -1 for a bad line. */
static int number_line(const char **p, const char *end, long long limit, long long *n) {
  const char *cr = memchr(*p, '\r', (size_t)(end - *p));
  char *stop;
  if (cr == NULL || cr + 1 >= end) return end - *p > 32 ? -1 : 0;
  *n = strtoll(*p + 1, &stop, 10);
  if (stop != cr || cr == *p + 1 || cr[1] != '\n' || *n < 0 || *n > limit) return -1;
  *p = cr + 2;
  return 1;
}

/* Parses one command at in[0..len): its length, 0 while incomplete, -1 on a
 * protocol error. */
static long parse(const char *in, size_t len, arg_t *a, size_t *argc) {
  const char *p = in, *end = in + len, *nl;
  long long n, blen;
  int rc;
  *argc = 0;
  if (in[0] != '*') { /* an inline command: words up to a newline */
    if ((nl = memchr(in, '\n', len)) == NULL) return len > MAX_INLINE ? -1 : 0;
    for (end = nl > in && nl[-1] == '\r' ? nl - 1 : nl; p < end && *argc < MAX_ARGS;) {
      while (p < end && *p == ' ') p++;
      if (p == end) break;
      a[*argc].p = p;
      while (p < end && *p != ' ') p++;
      a[*argc].n = (size_t)(p - a[*argc].p);
      ++*argc;
    }
    return nl - in + 1;
  }
  if ((rc = number_line(&p, end, MAX_ARGS, &n)) <= 0) return rc;
  for (; *argc < (size_t)n; ++*argc) {
    if (p == end) return 0;
    if (*p != '$') return -1;
    if ((rc = number_line(&p, end, MAX_BULK, &blen)) <= 0) return rc;
    if ((size_t)(end - p) < (size_t)blen + 2) return 0;
    a[*argc] = (arg_t){p, (size_t)blen};
    p += blen + 2;
  }
  return p - in;
}

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  free(c->in.p);
  free(c->out.p);
  free(c->sending.p);
  free(c);
}

static void end_conn(conn_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *req, int status);

/* Sends what is in out, unless a write is in flight (its callback sends). */
static void flush(conn_t *c) {
  buf_t t = c->sending;
  uv_buf_t b;
  if (c->sending.n > 0 || c->out.n == 0) return;
  c->sending = c->out;
  c->out = t;
  b = uv_buf_init(c->sending.p, (unsigned)c->sending.n);
  if (uv_write(&c->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) end_conn(c);
}

static void on_write(uv_write_t *req, int status) {
  conn_t *c = req->handle->data;
  c->sending.n = 0;
  if (status < 0) {
    end_conn(c);
    return;
  }
  flush(c);
  if (c->quit && c->sending.n == 0) end_conn(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)hint;
  if (c->in.cap - c->in.n < 1024) c->in.p = realloc(c->in.p, c->in.cap = c->in.cap ? 2 * c->in.cap : 4096);
  *buf = uv_buf_init(c->in.p + c->in.n, (unsigned)(c->in.cap - c->in.n));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  arg_t args[MAX_ARGS];
  size_t at = 0, argc;
  long used = 0;
  (void)buf;
  if (nread < 0) {
    end_conn(c);
    return;
  }
  c->in.n += (size_t)nread;
  while (!c->quit && at < c->in.n && (used = parse(c->in.p + at, c->in.n - at, args, &argc)) > 0) {
    c->quit = run(args, argc, &c->out);
    at += (size_t)used;
  }
  if (used < 0) {
    put(&c->out, "-ERR Protocol error\r\n", 21);
    c->quit = 1;
  }
  memmove(c->in.p, c->in.p + at, c->in.n - at);
  c->in.n -= at;
  if (c->quit) uv_read_stop(s);
  flush(c);
  if (c->quit && c->sending.n == 0) end_conn(c);
}

static void on_connection(uv_stream_t *server, int status) {
  conn_t *c;
  if (status < 0) return;
  c = calloc(1, sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    end_conn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, i, rc, len = sizeof(struct sockaddr_storage);
  struct sockaddr_storage addr;
  uv_tcp_t server;
  uv_signal_t sigint, sigterm;
  uv_loop_t *loop = uv_default_loop();
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else break;
  }
  if (i != argc) {
    fprintf(stderr, "usage: resp-libuv [--host HOST] [--port PORT]\n");
    return 2;
  }
  table = calloc(mask + 1, sizeof *table);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0) uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
  uv_tcp_init(loop, &server);
  if ((rc = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&server, 511, on_connection)) < 0) {
    fprintf(stderr, "resp-libuv: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
    return 1;
  }
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  printf("listening on %s:%d\n", host, ntohs(((struct sockaddr_in *)&addr)->sin_port));
  fflush(stdout);
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
