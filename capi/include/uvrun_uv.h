/* uvrun_uv.h -- the door from uvrun to raw libuv.
 *
 * Separate from uvrun.h so that programs (and FFI bindings) that never touch
 * libuv do not need its headers. Like uv.h, it needs the POSIX declarations
 * that strict ISO modes hide: with -std=c11, define _POSIX_C_SOURCE=200809L
 * (or use -std=gnu11). */
#ifndef UVRUN_UV_H
#define UVRUN_UV_H

#include <uv.h>
#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The libuv loop under a uvrun loop. Handles started on it run alongside
 * uvrun's callbacks; close them before the loop closes, or the close reports
 * them and closes them itself. */
UVRUN_EXTERN uv_loop_t *uvrun_loop_get_uv(uvrun_loop_t *loop);

/* Wraps a uv_loop_t the caller owns (for a loop factory). Closing the
 * uvrun loop closes only uvrun's own handles; `uv` stays initialized and is
 * the caller's to close after uvrun_loop_free(). */
UVRUN_EXTERN int uvrun_loop_new_borrowed(uv_loop_t *uv, uvrun_loop_t **out);

#ifdef __cplusplus
}
#endif
#endif /* UVRUN_UV_H */
