/* fs_file.c -- an open file (F2): positional reads and writes, fsync, stat
 * and close, each one executor job.
 *
 * The file itself belongs to the loop's thread; its descriptor lives in a
 * uvr_fd that its jobs share, so that dropping the file while a job runs
 * closes the descriptor only once that job is done with it -- never under
 * it, where the number could already name another file. close() is a job
 * too, which waits for the jobs submitted before it.
 *
 * A file left open is closed when its last reference goes, or at the
 * loop's close (L1); debug mode reports it, as asyncio's ResourceWarning
 * does for a file object never closed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

struct uvrun_file_s {
  int refs;                  /* loop thread only */
  int closed;                /* close() was called, or the loop closed it */
  uvrun_loop_t *loop;        /* reference */
  uvr_fd *fd;                /* reference */
  char *origin;              /* debug mode: who opened it, for the report */
  uvrun_file_t *prev, *next; /* loop->files */
};

uvrun_file_t *uvrun_file_ref(uvrun_file_t *file) {
  if (file != NULL) file->refs++;
  return file;
}

/* "unclosed file <File fd=5 path='/tmp/x'> created by task 'main', closed
 * when dropped", in the words of a stream's report. */
static void report_unclosed_file(const uvrun_file_t *file, int fd, const char *when) {
  uvr_logf(UVRUN_LOG_WARNING, "unclosed file <File fd=%d path='%s'>%s, closed %s", fd, file->fd->path,
           file->origin != NULL ? file->origin : "", when);
}

/* The descriptor, read under the lock the open job writes it under. */
static int file_fd_number(const uvrun_file_t *file) {
  int fd;
  uv_mutex_lock(&file->fd->mu);
  fd = file->fd->fd;
  uv_mutex_unlock(&file->fd->mu);
  return fd;
}

void uvrun_file_unref(uvrun_file_t *file) {
  int fd;
  if (file == NULL || --file->refs > 0) return;
  /* The descriptor closes with the last of the jobs using it (uvr_fd_unref). */
  if (file->loop->debug && !file->closed && (fd = file_fd_number(file)) >= 0)
    report_unclosed_file(file, fd, "when dropped");
  if (file->prev != NULL) file->prev->next = file->next;
  else file->loop->files = file->next;
  if (file->next != NULL) file->next->prev = file->prev;
  uvr_fd_unref(file->fd);
  uvr_loop_unref(file->loop);
  uvr_free(file->origin);
  uvr_free(file);
}

void uvr_files_close_all(uvrun_loop_t *loop) {
  uvrun_file_t *file;
  int fd;
  for (file = loop->files; file != NULL; file = file->next) {
    if (file->closed) continue;
    file->closed = 1;
    if ((fd = uvr_fd_close_soon(file->fd)) >= 0 && loop->debug) report_unclosed_file(file, fd, "at loop close");
  }
}

const char *uvrun_file_path(const uvrun_file_t *file) { return file != NULL ? file->fd->path : NULL; }

/* ---- open ---- */

static int run_open(uvr_fs_req *req) {
  int fd = open(req->path, req->flags | O_CLOEXEC, (mode_t)req->mode);
  if (fd < 0) return uvr_fs_fail(req, -errno);
  /* Under the lock: the loop thread reads it to report a dropped file, and
   * one whose loop closed meanwhile is not to be left open. */
  uv_mutex_lock(&req->fd->mu);
  if (req->fd->close_on_idle) close(fd);
  else req->fd->fd = fd;
  uv_mutex_unlock(&req->fd->mu);
  return 0;
}

uvrun_future_t *uvrun_file_open(uvrun_loop_t *loop, const char *path, int flags, int mode) {
  uvrun_file_t *file;
  uvr_fs_req *req;
  if (uvr_io_check_loop(loop, "open") < 0) return NULL;
  if (path == NULL) {
    uvr_fs_bad_arg("open", "path must not be NULL");
    return NULL;
  }
  if ((req = uvr_fs_req_new("open", run_open, path)) == NULL) return NULL;
  if ((file = uvr_calloc(1, sizeof *file)) == NULL || (file->fd = uvr_fd_new(path)) == NULL) {
    if (file != NULL) uvr_fail(UVRUN_E_NOMEM, "out of memory");
    uvr_free(file);
    uvr_fs_req_free(req);
    return NULL;
  }
  file->refs = 1;
  file->loop = uvr_loop_ref(loop);
  if (loop->debug) file->origin = uvr_io_origin(loop);
  file->next = loop->files;
  if (loop->files != NULL) loop->files->prev = file;
  loop->files = file;
  req->fd = uvr_fd_ref(file->fd);
  req->flags = flags;
  req->mode = mode;
  req->result = file;
  return uvr_fs_submit(loop, req, file);
}

/* ---- operations on it ---- */

static int run_read(uvr_fs_req *req) {
  ssize_t k;
  if ((req->data = uvr_malloc(req->len + 1)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  if ((k = uvr_fs_read_full(req->fd->fd, req->data, req->len, req->offset)) < 0) return uvr_fs_fail(req, (int)k);
  req->data[k] = '\0';
  req->bytes.data = req->data;
  req->bytes.len = (size_t)k;
  req->result = &req->bytes;
  return 0;
}

static int run_write(uvr_fs_req *req) {
  int rc = uvr_fs_write_all(req->fd->fd, req->data, req->len, req->offset);
  if (rc < 0) return uvr_fs_fail(req, rc);
  req->result = (void *)(uintptr_t)req->len;
  return 0;
}

static int run_fsync(uvr_fs_req *req) { return fsync(req->fd->fd) < 0 ? uvr_fs_fail(req, -errno) : 0; }

static int run_fstat(uvr_fs_req *req) {
  struct stat st;
  if (fstat(req->fd->fd, &st) < 0) return uvr_fs_fail(req, -errno);
  uvr_fs_stat_fill(&req->st, &st);
  req->result = &req->st;
  return 0;
}

static int run_close(uvr_fs_req *req) {
  int rc = uvr_fd_close_when_idle(req->fd);
  return rc < 0 ? uvr_fs_fail(req, rc) : 0;
}

/* A request on an open file, or NULL (recorded): the file must not be
 * NULL, its loop open, the file not closed. */
static uvr_fs_req *file_req(uvrun_file_t *file, const char *what, int (*run)(uvr_fs_req *)) {
  uvr_fs_req *req;
  if (file == NULL) {
    uvr_fs_bad_arg(what, "file must not be NULL");
    return NULL;
  }
  if (uvr_io_check_loop(file->loop, what) < 0) return NULL;
  if (file->closed) {
    uvr_fail(-EBADF, "%s(\"%s\"): the file is closed", what, file->fd->path);
    return NULL;
  }
  if ((req = uvr_fs_req_new(what, run, NULL)) == NULL) return NULL;
  req->fd = uvr_fd_ref(file->fd);
  req->on_file = run != run_close; /* close waits for the others */
  return req;
}

static int check_offset(const char *what, int64_t offset) {
  if (offset >= -1) return 0;
  return uvr_fail(UVRUN_E_INVAL, "%s: offset must be -1 (the file's position) or more, not %lld", what,
                  (long long)offset);
}

uvrun_future_t *uvrun_file_read(uvrun_file_t *file, size_t n, int64_t offset) {
  uvr_fs_req *req;
  if (check_offset("read", offset) < 0) return NULL;
  if (n > (size_t)SSIZE_MAX) {
    uvr_fail(UVRUN_E_INVAL, "read: n must be at most %zd", (ssize_t)SSIZE_MAX);
    return NULL;
  }
  if ((req = file_req(file, "read", run_read)) == NULL) return NULL;
  req->len = n;
  req->offset = offset;
  return uvr_fs_submit(file->loop, req, NULL);
}

uvrun_future_t *uvrun_file_write(uvrun_file_t *file, const void *data, size_t n, int64_t offset) {
  uvr_fs_req *req;
  if (check_offset("write", offset) < 0) return NULL;
  if (data == NULL && n > 0) {
    uvr_fs_bad_arg("write", "data must not be NULL");
    return NULL;
  }
  if ((req = file_req(file, "write", run_write)) == NULL) return NULL;
  if (uvr_fs_req_take_copy(req, data, n) < 0) return NULL;
  req->offset = offset;
  return uvr_fs_submit(file->loop, req, NULL);
}

uvrun_future_t *uvrun_file_fsync(uvrun_file_t *file) {
  uvr_fs_req *req = file_req(file, "fsync", run_fsync);
  return req != NULL ? uvr_fs_submit(file->loop, req, NULL) : NULL;
}

uvrun_future_t *uvrun_file_stat(uvrun_file_t *file) {
  uvr_fs_req *req = file_req(file, "stat", run_fstat);
  return req != NULL ? uvr_fs_submit(file->loop, req, NULL) : NULL;
}

uvrun_future_t *uvrun_file_close(uvrun_file_t *file) {
  uvr_fs_req *req = file_req(file, "close", run_close);
  uvrun_future_t *fut = req != NULL ? uvr_fs_submit(file->loop, req, NULL) : NULL;
  if (fut != NULL) file->closed = 1;
  return fut;
}
