"""Loading libuvrun and declaring the C signatures (ctypes, standard library only)."""
import ctypes
import ctypes.util
import os

__all__ = ["lib", "library_path"]

_here = os.path.dirname(os.path.abspath(__file__))
_repo = os.path.normpath(os.path.join(_here, "..", "..", ".."))


def _candidates():
    env = os.environ.get("UVRUN_LIBRARY")
    if env:
        yield env
        return
    # Next to the build: a checkout's build directories.
    for build in ("build", "build-ffi"):
        yield os.path.join(_repo, build, "capi", "libuvrun.so")
    found = ctypes.util.find_library("uvrun")
    if found:
        yield found
    yield "libuvrun.so.0"



c_int, c_int32, c_uint32, c_double = ctypes.c_int, ctypes.c_int32, ctypes.c_uint32, ctypes.c_double
c_void_p, c_char_p, c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
P = ctypes.POINTER

FREE_FN = ctypes.CFUNCTYPE(None, c_void_p)
STEP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
CALLBACK_FN = ctypes.CFUNCTYPE(None, c_void_p)
WORK_FN = ctypes.CFUNCTYPE(c_int, c_void_p, P(c_void_p))
LOG_FN = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class ExceptionContext(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("message", c_char_p), ("error", c_void_p), ("task", c_void_p),
                ("future", c_void_p), ("asyncgen", c_void_p), ("source", c_char_p)]


EXCEPTION_HANDLER_FN = ctypes.CFUNCTYPE(None, c_void_p, P(ExceptionContext), c_void_p)
LOOP_FACTORY_FN = ctypes.CFUNCTYPE(c_int, c_void_p, P(c_void_p))


class ShutdownEvent(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("step", c_int32), ("end", c_int32), ("status", c_int32),
                ("count", ctypes.c_uint64), ("timeout", c_double), ("time", c_double)]


SHUTDOWN_HOOK_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(ShutdownEvent), c_void_p)


class Options(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("debug", c_int32), ("loop_factory", LOOP_FACTORY_FN),
                ("loop_factory_data", c_void_p), ("executor_shutdown_timeout", c_double),
                ("executor_max_workers", c_int32), ("handle_sigint", c_int32),
                ("exception_handler", EXCEPTION_HANDLER_FN), ("exception_handler_data", c_void_p),
                ("cancel_timeout", c_double), ("host_sigint", c_int32),
                ("shutdown_hook", SHUTDOWN_HOOK_FN), ("shutdown_hook_data", c_void_p)]


class TaskOpts(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("name", c_char_p), ("context", c_void_p), ("arg_free", FREE_FN),
                ("site", c_char_p)]


_signatures = {
    "uvrun_version": (ctypes.c_uint, []),
    "uvrun_version_string": (c_char_p, []),
    "uvrun_err_name": (c_char_p, [c_int]),
    "uvrun_strerror": (c_char_p, [c_int]),
    "uvrun_errmsg": (c_char_p, []),
    "uvrun_error_new": (c_void_p, [c_int, c_char_p, c_void_p, FREE_FN]),
    "uvrun_error_ref": (c_void_p, [c_void_p]),
    "uvrun_error_unref": (None, [c_void_p]),
    "uvrun_error_code": (c_int, [c_void_p]),
    "uvrun_error_message": (c_char_p, [c_void_p]),
    "uvrun_error_payload": (c_void_p, [c_void_p]),
    "uvrun_error_payload_free": (c_void_p, [c_void_p]),
    "uvrun_take_error": (c_void_p, []),
    "uvrun_error_context": (c_void_p, [c_void_p]),
    "uvrun_set_log_level": (c_int, [c_int]),
    "uvrun_get_log_level": (c_int, []),
    "uvrun_shutdown_step_name": (c_char_p, [c_int]),
    "uvrun_error_set_last": (c_int, [c_void_p]),
    "uvrun_set_log_sink": (None, [LOG_FN, c_void_p]),
    "uvrun_loop_time": (c_double, [c_void_p]),
    "uvrun_loop_get_debug": (c_int, [c_void_p]),
    "uvrun_loop_call_soon": (c_int, [c_void_p, CALLBACK_FN, c_void_p, P(c_void_p)]),
    "uvrun_loop_call_later": (c_int, [c_void_p, c_double, CALLBACK_FN, c_void_p, P(c_void_p)]),
    "uvrun_loop_call_soon_threadsafe": (c_int, [c_void_p, CALLBACK_FN, c_void_p]),
    "uvrun_loop_call_exception_handler": (None, [c_void_p, P(ExceptionContext)]),
    "uvrun_loop_default_exception_handler": (None, [c_void_p, P(ExceptionContext)]),
    "uvrun_handle_cancel": (None, [c_void_p]),
    "uvrun_handle_cancelled": (c_int, [c_void_p]),
    "uvrun_handle_unref": (None, [c_void_p]),
    "uvrun_get_running_loop": (c_void_p, []),
    "uvrun_future_ref": (c_void_p, [c_void_p]),
    "uvrun_future_unref": (None, [c_void_p]),
    "uvrun_future_cancel": (c_int, [c_void_p, c_char_p]),
    "uvrun_future_done": (c_int, [c_void_p]),
    "uvrun_future_cancelled": (c_int, [c_void_p]),
    "uvrun_future_result": (c_int, [c_void_p, P(c_void_p)]),
    "uvrun_future_error": (c_void_p, [c_void_p]),
    "uvrun_task_opts_init": (None, [P(TaskOpts)]),
    "uvrun_task_new": (c_int, [c_void_p, STEP_FN, c_void_p, P(TaskOpts), P(c_void_p)]),
    "uvrun_task_ref": (c_void_p, [c_void_p]),
    "uvrun_task_unref": (None, [c_void_p]),
    "uvrun_task_future": (c_void_p, [c_void_p]),
    "uvrun_task_loop": (c_void_p, [c_void_p]),
    "uvrun_task_await": (c_int, [c_void_p, c_void_p]),
    "uvrun_task_yield": (c_int, [c_void_p]),
    "uvrun_task_sleep": (c_int, [c_void_p, c_double]),
    "uvrun_task_resume": (c_int, [c_void_p, P(c_void_p)]),
    "uvrun_task_resume_error": (c_void_p, [c_void_p]),
    "uvrun_task_return": (c_int, [c_void_p, c_void_p]),
    "uvrun_task_return_owned": (c_int, [c_void_p, c_void_p, FREE_FN]),
    "uvrun_task_raise": (c_int, [c_void_p, c_void_p]),
    "uvrun_task_cancel": (c_int, [c_void_p, c_char_p]),
    "uvrun_task_name": (c_char_p, [c_void_p]),
    "uvrun_sleep": (c_void_p, [c_void_p, c_double]),
    "uvrun_gather": (c_void_p, [c_void_p, P(c_void_p), c_size_t, c_int]),
    "uvrun_wait_for": (c_void_p, [c_void_p, c_double]),
    "uvrun_run_in_executor": (c_void_p, [c_void_p, WORK_FN, c_void_p]),
    "uvrun_options_init": (None, [P(Options)]),
    "uvrun_run": (c_int, [STEP_FN, c_void_p, P(Options), P(c_void_p)]),
    "uvrun_runner_new": (c_int, [P(Options), P(c_void_p)]),
    "uvrun_runner_run_task": (c_int, [c_void_p, STEP_FN, c_void_p, P(TaskOpts), P(c_void_p)]),
    "uvrun_runner_get_loop": (c_int, [c_void_p, P(c_void_p)]),
    "uvrun_runner_close": (c_int, [c_void_p]),
    "uvrun_runner_free": (None, [c_void_p]),
    "uvrun_runner_free_v2": (None, [c_void_p]),
}

def _declare(cdll):
    for name, (res, args) in _signatures.items():
        fn = getattr(cdll, name)  # AttributeError: an older library
        fn.restype = res
        fn.argtypes = args


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            cdll = ctypes.CDLL(path)
            _declare(cdll)
            return cdll, path
        except (OSError, AttributeError) as e:
            errors.append(f"{path}: {e}")
    raise ImportError("uvrun: cannot load libuvrun (set UVRUN_LIBRARY to its path): " + "; ".join(errors))


lib, library_path = _load()
