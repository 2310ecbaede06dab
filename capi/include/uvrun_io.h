/* uvrun_io.h -- streams, servers and name lookup (included by uvrun.h).
 *
 * Every operation that waits returns a new uvrun_future_t * to await (or
 * NULL, the reason in uvrun_errmsg()), so wait_for, gather, cancellation and
 * timeouts apply to I/O unchanged. Operations that never wait return an int.
 * libuv's codes pass through unchanged: a reset peer is -ECONNRESET, an
 * unknown host a UV_EAI_* value; uvrun_strerror() knows them.
 *
 * Streams and servers are reference-counted and belong to their loop's
 * thread. Dropping the last reference to an open one aborts it. */
#ifndef UVRUN_IO_H
#define UVRUN_IO_H

#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvrun_stream_s uvrun_stream_t;
typedef struct uvrun_server_s uvrun_server_t;

/* Buffering and socket options of a stream. */
typedef struct uvrun_stream_opts_s {
  uint32_t size;
  /* Bytes buffered unread before the stream stops reading from the socket
   * (a fast sender cannot grow a slow reader's memory); 0: 64 KiB. */
  uint64_t read_limit;
  /* drain() waits while more than write_low bytes are queued, once the
   * queue went above write_high; 0: 64 KiB and 16 KiB. */
  uint64_t write_high;
  uint64_t write_low;
  int32_t nodelay;   /* TCP_NODELAY: 1 (default) or 0 */
  int32_t keepalive; /* TCP keepalive delay in seconds; 0 (default): off */
  /* connect: bind to this local address first (NULL: any) and port (0). */
  const char *local_host;
  int32_t local_port;
  /* connect: fail with UVRUN_E_TIMEDOUT after this many seconds; 0: none. */
  double connect_timeout;
} uvrun_stream_opts_t;
UVRUN_EXTERN void uvrun_stream_opts_init(uvrun_stream_opts_t *opts);

/* ---- Connecting ------------------------------------------------------------
 * The future's value is the connected uvrun_stream_t *, owned by the future:
 * uvrun_stream_ref() it to keep it. A numeric host connects at once; a name
 * is looked up and its addresses are tried with IPv4 and IPv6 taking turns,
 * a new attempt starting every 250 ms while earlier ones are pending (Happy
 * Eyeballs, RFC 8305); the first to connect wins. Cancelling closes every socket it opened. */
UVRUN_EXTERN uvrun_future_t *uvrun_tcp_connect(uvrun_loop_t *loop,
                                               const char *host, int port,
                                               const uvrun_stream_opts_t *opts);
/* A Unix-domain socket; a path starting with '@' names an abstract socket
 * (Linux). */
UVRUN_EXTERN uvrun_future_t *uvrun_unix_connect(
    uvrun_loop_t *loop, const char *path, const uvrun_stream_opts_t *opts);
/* Adopts a connected socket or a pipe the caller has: the stream owns fd
 * from now on (closes it), also when this fails. */
UVRUN_EXTERN int uvrun_stream_open(uvrun_loop_t *loop, int fd,
                                   const uvrun_stream_opts_t *opts,
                                   uvrun_stream_t **out);

/* U2: a standard stream (or any fd) as a stream, whatever it is: a TTY, a
 * pipe, a socket, or a regular file or device (/dev/null), whose reads and
 * writes run on the loop's executor at the file's position (a read at the
 * end of the file completes with 0). Fds above 2 are the stream's, as with
 * uvrun_stream_open: closed with it, or when this fails. Fds 0, 1 and 2 are
 * never closed; at close they are left as found (blocking mode, a TTY's
 * settings). A fd that has an open stream on loop already fails with
 * UVRUN_E_INVALID_STATE and stays that stream's. */
UVRUN_EXTERN int uvrun_stdio_open(uvrun_loop_t *loop, int fd,
                                  uvrun_stream_t **out);
/* A TTY's stream: raw mode (1: bytes as typed, no echo, no line editing)
 * or back to normal (0). Closing the stream also puts it back. */
UVRUN_EXTERN int uvrun_stdio_set_raw(uvrun_stream_t *stream, int raw);

UVRUN_EXTERN uvrun_stream_t *uvrun_stream_ref(uvrun_stream_t *stream);
UVRUN_EXTERN void uvrun_stream_unref(uvrun_stream_t *stream);
UVRUN_EXTERN uvrun_loop_t *uvrun_stream_loop(const uvrun_stream_t *stream);
/* A pointer the caller keeps with the stream (per-connection state);
 * `data_free` runs on it when the stream is freed, or when it is replaced,
 * or, for a served connection whose handler is left unfinished at loop
 * close, then (the data may hold the stream). */
UVRUN_EXTERN void uvrun_stream_set_data(uvrun_stream_t *stream, void *data,
                                        uvrun_free_fn data_free);
UVRUN_EXTERN void *uvrun_stream_data(const uvrun_stream_t *stream);

/* ---- Reading ---------------------------------------------------------------
 * One read waits at a time: a second fails at once with UVRUN_E_READ_BUSY
 * and leaves the first alone. A read consumes bytes only when its result is
 * taken (uvrun_task_resume, uvrun_future_result): one cancelled or timed out
 * before that -- even in the loop iteration its bytes arrived -- consumed
 * nothing, and the next read gets the same bytes. `buf` must stay valid
 * until then. After a local close, reads fail with UVRUN_E_STREAM_CLOSED. */

/* 1..n bytes as soon as any are there; 0 at the end of the stream. The
 * value is the count, as uintptr_t. n = 0 is refused (UVRUN_E_INVAL). */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_read(uvrun_stream_t *stream,
                                               void *buf, size_t n);
/* Exactly n bytes (value n), or UVRUN_E_INCOMPLETE_READ at the end of the
 * stream: the bytes that did arrive are then in buf, and the error's
 * payload is their count (as uintptr_t). n = 0 is done at once. */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_read_exactly(uvrun_stream_t *stream,
                                                       void *buf, size_t n);
/* The bytes up to and including `delim` (value: their count), at most
 * `cap` (at least delim_len); UVRUN_E_LIMIT_OVERRUN if cap bytes came
 * without it (they stay in the stream); UVRUN_E_INCOMPLETE_READ at the end
 * of the stream, as above. */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_read_until(uvrun_stream_t *stream,
                                                     const void *delim,
                                                     size_t delim_len,
                                                     void *buf, size_t cap);

/* ---- Writing ---------------------------------------------------------------
 * A write never waits: it writes what the socket takes now and queues the
 * rest, in call order. Write errors (a reset peer: -ECONNRESET or -EPIPE;
 * SIGPIPE is ignored, see uvrun_io_sigpipe) are reported by the next write,
 * drain or shutdown. */
UVRUN_EXTERN int uvrun_stream_write(uvrun_stream_t *stream, const void *data,
                                    size_t n);
/* Zero-copy: data stays the caller's until release(data) runs (at once if
 * the socket took it all or the write fails, or when the queue lets it go
 * -- also on abort). */
UVRUN_EXTERN int uvrun_stream_write_owned(uvrun_stream_t *stream, void *data,
                                          size_t n, uvrun_free_fn release);
/* Done when the queue is at or below the low-water mark. Any number of
 * drains may wait; a cancelled drain leaves the queue as it is. */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_drain(uvrun_stream_t *stream);
/* Sends what is queued, then the end of stream (half-close); reading goes
 * on, writing fails with UVRUN_E_INVALID_STATE. Done when the end is sent. */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_shutdown(uvrun_stream_t *stream);

/* ---- Closing ---------------------------------------------------------------
 * close(): sends what is queued, then closes. abort(): drops the queue and
 * closes at once (TCP: a reset). Both are idempotent; afterwards every
 * operation fails with UVRUN_E_STREAM_CLOSED. */
UVRUN_EXTERN int uvrun_stream_close(uvrun_stream_t *stream);
UVRUN_EXTERN int uvrun_stream_abort(uvrun_stream_t *stream);
/* Done when the socket is really closed. */
UVRUN_EXTERN uvrun_future_t *uvrun_stream_wait_closed(uvrun_stream_t *stream);

typedef struct uvrun_stream_info_s {
  uint32_t size;
  int32_t fd;             /* -1 once closed */
  int32_t closed;         /* close or abort was called */
  int32_t at_eof;         /* the peer ended its side */
  uint64_t read_buffered; /* bytes received, not yet read */
  uint64_t write_queued;  /* bytes queued, not yet sent */
  char local_host[64];    /* numeric; "" for none (a pipe) */
  int32_t local_port;
  char peer_host[64];
  int32_t peer_port;
} uvrun_stream_info_t;
UVRUN_EXTERN int uvrun_stream_info(const uvrun_stream_t *stream,
                                   uvrun_stream_info_t *info);

/* ---- Servers ---------------------------------------------------------------- */
typedef struct uvrun_server_opts_s {
  uint32_t size;
  int32_t backlog;            /* 0: 511 */
  int32_t reuse_address;      /* SO_REUSEADDR: 1 (default) or 0 */
  int32_t reuse_port;         /* SO_REUSEPORT (one server per thread): 0 or 1 */
  uvrun_stream_opts_t stream; /* for the connections accepted */
} uvrun_server_opts_t;
UVRUN_EXTERN void uvrun_server_opts_init(uvrun_server_opts_t *opts);

/* Listens on every address host resolves to (NULL or "": all interfaces,
 * dual stack); port 0 picks a free port (uvrun_server_port). The value is
 * the uvrun_server_t *, owned by the future: ref it to keep it. */
UVRUN_EXTERN uvrun_future_t *uvrun_tcp_listen(uvrun_loop_t *loop,
                                              const char *host, int port,
                                              const uvrun_server_opts_t *opts);
UVRUN_EXTERN uvrun_future_t *uvrun_unix_listen(uvrun_loop_t *loop,
                                               const char *path,
                                               const uvrun_server_opts_t *opts);
UVRUN_EXTERN uvrun_server_t *uvrun_server_ref(uvrun_server_t *server);
UVRUN_EXTERN void uvrun_server_unref(uvrun_server_t *server);
/* The port it listens on (TCP), or a negative code. */
UVRUN_EXTERN int uvrun_server_port(const uvrun_server_t *server);

/* One connection (value: uvrun_stream_t *, owned by the future). A
 * connection is taken from the kernel only while an accept waits: a
 * cancelled accept loses none. */
UVRUN_EXTERN uvrun_future_t *uvrun_server_accept(uvrun_server_t *server);

/* A connection handler: a step function, called as a task step is, with
 * the connection. Its task runs in a copy of the context current at
 * uvrun_server_serve(). When it ends the connection is closed; a failure
 * is reported to the loop's exception handler, and the server goes on. */
typedef int (*uvrun_handler_fn)(uvrun_task_t *task, uvrun_stream_t *stream,
                                void *ud);
/* `ud_free` (if set) runs on ud when the server is freed, or at once if
 * this call fails. Serving twice is UVRUN_E_INVALID_STATE. */
UVRUN_EXTERN int uvrun_server_serve(uvrun_server_t *server,
                                    uvrun_handler_fn handler, void *ud,
                                    uvrun_free_fn ud_free);
/* Stops listening at once; connections are left alone. Idempotent. */
UVRUN_EXTERN int uvrun_server_close(uvrun_server_t *server);
/* Graceful shutdown: stop listening, let handlers finish for up to `grace`
 * seconds, then cancel those left and close (then_abort = 0) or abort (1)
 * their streams. Done when every handler has ended. */
UVRUN_EXTERN uvrun_future_t *uvrun_server_shutdown(uvrun_server_t *server,
                                                   double grace,
                                                   int then_abort);

typedef struct uvrun_server_info_s {
  uint32_t size;
  int32_t listening;
  int32_t port;
  uint64_t open;     /* connections being handled or not yet closed */
  uint64_t accepted; /* in all */
  uint64_t refused;  /* failed accepts (EMFILE, say) */
} uvrun_server_info_t;
UVRUN_EXTERN int uvrun_server_info(const uvrun_server_t *server,
                                   uvrun_server_info_t *info);

/* ---- Names -------------------------------------------------------------------
 * Lookups run on the loop's executor, never on libuv's shared pool; one
 * cancelled before it started never runs. */
typedef struct uvrun_address_s {
  int32_t family; /* AF_INET or AF_INET6 */
  int32_t socktype;
  int32_t protocol;
  int32_t port;
  char host[64]; /* numeric */
  const struct uvrun_address_s *next;
} uvrun_address_t;
/* The value is the first uvrun_address_t of a list owned by the future.
 * `family`, `socktype`: 0 for any. */
UVRUN_EXTERN uvrun_future_t *uvrun_getaddrinfo(uvrun_loop_t *loop,
                                               const char *host,
                                               const char *service, int family,
                                               int socktype);
/* The value is a string "host\0service" owned by the future. */
UVRUN_EXTERN uvrun_future_t *uvrun_getnameinfo(uvrun_loop_t *loop,
                                               const char *host, int port,
                                               int flags);

/* SIGPIPE: the first stream or server a process makes sets it to ignored
 * if its disposition is the default, so a write to a reset peer fails with
 * -EPIPE instead of killing the process. Call with 0 before that (or set
 * UVRUN_KEEP_SIGPIPE=1) to leave SIGPIPE alone. */
UVRUN_EXTERN void uvrun_io_sigpipe(int ignore);

#ifdef __cplusplus
}
#endif

/* Here rather than in uvrun.h: their types need the streams above, also when
 * this header is the one a program includes first. */
#include "uvrun_process.h"
#include "uvrun_fs.h"
#include "uvrun_udp.h"
#endif /* UVRUN_IO_H */
