"""The Python binding: tasks, timers, executor, errors across the boundary, Runner lifetimes."""
import gc
import os
import sys
import threading
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import uvrun  # noqa: E402
from uvrun._lib import lib  # noqa: E402


def sleeper(seconds, value):
    """A step that sleeps, then returns value."""
    def step(task, state):
        if state.step == 0:
            state.step = 1
            return task.await_(task.sleep(seconds))
        task.resume()
        return task.done(value)
    return step


def raising(err):
    """A step that raises err."""
    def step(task, state):
        raise err
    return step


def awaiting_child(child, then):
    """A main step: awaits a child task running `child`, then returns then(task)."""
    def main(task, s):
        if s.step == 0:
            s.step = 1
            return task.await_(task.create_task(child))
        return then(task)
    return main


class Boom(Exception):
    pass


class TestRun(unittest.TestCase):
    def test_hello_returns_the_value(self):
        self.assertEqual(uvrun.run(sleeper(0.01, "hello")), "hello")

    def test_state_is_passed_and_kept(self):
        state = types.SimpleNamespace(step=0, seen=[])

        def step(task, s):
            s.seen.append(s.step)
            if s.step < 3:
                s.step += 1
                return task.yield_()
            return task.done(len(s.seen))
        self.assertEqual(uvrun.run(step, state), 4)
        self.assertEqual(state.seen, [0, 1, 2, 3])

    def test_none_result(self):
        self.assertIsNone(uvrun.run(lambda task, s: task.done()))

    def test_a_raising_step_raises_the_same_exception_from_run(self):
        err = Boom("boom")
        with self.assertRaises(Boom) as cm:
            uvrun.run(raising(err))
        self.assertIs(cm.exception, err)

    def test_a_step_returning_nonsense_is_a_type_error(self):
        with self.assertRaisesRegex(TypeError, "task.await_"):
            uvrun.run(lambda task, s: "oops")

    def test_debug_option(self):
        def step(task, state):
            return task.done(task.loop.get_debug())
        self.assertTrue(uvrun.run(step, debug=True))
        self.assertFalse(uvrun.run(step, debug=False))


class TestTasks(unittest.TestCase):
    def test_child_task_result_is_awaited(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.child = task.create_task(sleeper(0.01, {"k": [1, 2]}), name="child")
                return task.await_(s.child)
            return task.done((task.resume(), s.child.name, s.child.result()))
        value, name, again = uvrun.run(main)
        self.assertEqual(value, {"k": [1, 2]})
        self.assertEqual(name, "child")
        self.assertIs(again, value)

    def test_child_exception_reaches_the_parent_intact(self):
        err = Boom("from child")

        def caught(task):
            try:
                task.resume()
            except Boom as e:
                return task.done(e)
        self.assertIs(uvrun.run(awaiting_child(raising(err), caught)), err)

    def test_unhandled_child_exception_propagates_out_of_run(self):
        err = Boom("up")

        def let_go(task):
            task.resume()  # raises err: the step lets it go
            return task.done()
        with self.assertRaises(Boom) as cm:
            uvrun.run(awaiting_child(raising(err), let_go))
        self.assertIs(cm.exception, err)

    def test_cancelling_a_child(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.child = task.create_task(sleeper(10, None))
                return task.yield_()
            if s.step == 1:
                s.step = 2
                s.child.cancel("stop")
                return task.await_(s.child)
            try:
                task.resume()
            except uvrun.CancelledError as e:
                return task.done(("cancelled", s.child.cancelled()))
        self.assertEqual(uvrun.run(main), ("cancelled", True))

    def test_sleep_in_place_wakes_on_time_and_is_cancelled_at_once(self):
        def napper(task, s):
            if s.step == 0:
                s.step = 1
                return task.sleep_(10)
            try:
                task.resume()
            except uvrun.CancelledError as e:
                return task.done(str(e))
            return task.done("slept")

        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.start = task.loop.time()
                return task.sleep_(0.02)
            if s.step == 1:
                s.step = 2
                s.slept = task.loop.time() - s.start
                s.child = task.create_task(napper)
                return task.yield_()
            if s.step == 2:
                s.step = 3
                s.child.cancel("wake up")
                return task.await_(s.child)
            return task.done((s.slept >= 0.019, task.resume()))
        self.assertEqual(uvrun.run(main), (True, "wake up"))

    def test_cancelled_main_task_raises_cancelled_error(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                return task.await_(task.sleep(10))
            task.resume()  # raises CancelledError
            return task.done()

        def outer(task, s):
            if s.step == 0:
                s.step = 1
                s.child = task.create_task(main)
                return task.yield_()
            if s.step == 1:
                s.step = 2
                s.child.cancel()
                return task.await_(s.child)
            task.resume()  # CancelledError goes on: the main task ends cancelled
            return task.done()
        with self.assertRaises(uvrun.CancelledError):
            uvrun.run(outer)

    def test_gather_and_wait_for(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.a = task.create_task(sleeper(0.01, 1))
                s.b = task.create_task(sleeper(0.02, 2))
                return task.await_(task.gather(s.a, s.b))
            if s.step == 1:
                task.resume()
                s.step = 2
                return task.await_(task.wait_for(task.sleep(10), 0.01))
            try:
                task.resume()
            except uvrun.Error as e:
                return task.done((s.a.result() + s.b.result(), e.name))
        self.assertEqual(uvrun.run(main), (3, "UVRUN_E_TIMEDOUT"))


class TestLoop(unittest.TestCase):
    def test_call_later_order_and_cancel(self):
        seen = []

        def main(task, s):
            if s.step == 0:
                s.step = 1
                task.call_later(0.02, seen.append, "b")
                task.call_later(0.01, seen.append, "a")
                task.call_later(0.015, seen.append, "x").cancel()
                task.loop.call_soon(seen.append, "soon")
                return task.await_(task.sleep(0.05))
            return task.done(list(seen))
        self.assertEqual(uvrun.run(main), ["soon", "a", "b"])

    def test_callback_exception_goes_to_the_exception_handler(self):
        reports = []

        def bad():
            raise Boom("in callback")

        def main(task, s):
            if s.step == 0:
                s.step = 1
                task.loop.call_soon(bad)
                return task.yield_()
            return task.done()
        uvrun.run(main, exception_handler=lambda loop, ctx: reports.append(ctx))
        self.assertEqual(len(reports), 1)
        self.assertIn("Exception in callback", reports[0]["message"])
        self.assertIsInstance(reports[0]["exception"], Boom)

    def test_log_sink_gets_default_handler_reports(self):
        lines = []
        uvrun.set_log_sink(lambda level, msg: lines.append((level, msg)))
        try:
            def main(task, s):
                if s.step == 0:
                    s.step = 1
                    task.loop.call_soon(lambda: 1 / 0)
                    return task.yield_()
                return task.done()
            uvrun.run(main)
        finally:
            uvrun.set_log_sink(None)
        self.assertTrue(any(level == 40 and "ZeroDivisionError" in msg for level, msg in lines), lines)

    def test_call_soon_threadsafe_from_a_thread(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.seen = []
                loop = task.loop
                threading.Thread(target=lambda: loop.call_soon_threadsafe(s.seen.append, "t")).start()
                return task.await_(task.sleep(0.05))
            return task.done(s.seen)
        self.assertEqual(uvrun.run(main), ["t"])


class TestExecutor(unittest.TestCase):
    def test_value_and_exception_from_a_worker(self):
        err = Boom("worker")

        def fail():
            raise err

        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.f = task.run_in_executor(lambda a, b: (threading.current_thread() is not threading.main_thread(),
                                                         a + b), 40, 2)
                return task.await_(s.f)
            if s.step == 1:
                s.step = 2
                s.value = task.resume()
                return task.await_(task.run_in_executor(fail))
            try:
                task.resume()
            except Boom as e:
                return task.done((s.value, e))
        value, exc = uvrun.run(main)
        self.assertEqual(value, (True, 42))
        self.assertIs(exc, err)

    def test_many_jobs(self):
        def main(task, s):
            if s.step == 0:
                s.step = 1
                s.jobs = [task.run_in_executor(pow, i, 2) for i in range(50)]
                return task.await_(task.gather(*s.jobs))
            task.resume()
            return task.done(sum(j.result() for j in s.jobs))
        self.assertEqual(uvrun.run(main), sum(i * i for i in range(50)))


class TestExecutorJobs(unittest.TestCase):
    def test_a_job_whose_future_was_dropped_still_runs_with_its_own_function(self):
        ran = []

        def main(task, state):
            for i in range(20):
                task.run_in_executor(ran.append, i)  # Future dropped at once
            gc.collect()
            return task.done(None)
        uvrun.run(main)
        self.assertEqual(sorted(ran), list(range(20)))


class TestRunner(unittest.TestCase):
    def test_several_runs_share_a_loop(self):
        with uvrun.Runner() as r:
            loop = r.get_loop()
            self.assertEqual(r.run(sleeper(0.001, 1)), 1)
            self.assertEqual(r.run(sleeper(0.001, 2)), 2)
            self.assertEqual(r.get_loop()._ptr, loop._ptr)

    def test_call_after_close_is_a_clear_error(self):
        r = uvrun.Runner()
        r.run(sleeper(0, None))
        r.close()
        r.close()  # idempotent
        with self.assertRaises(uvrun.Error) as cm:
            r.run(sleeper(0, None))
        self.assertEqual(cm.exception.name, "UVRUN_E_CLOSED")
        self.assertIn("Runner is closed", str(cm.exception))

    def test_run_from_a_running_loop_is_refused(self):
        def main(task, s):
            try:
                uvrun.run(sleeper(0, None))
            except uvrun.Error as e:
                return task.done(e.name)
        self.assertEqual(uvrun.run(main), "UVRUN_E_LOOP_RUNNING")

    def leave_pending_task(self, runner, log):
        """Runs a main task that leaves a child pending; its cleanup appends to log."""
        def child(task, s):
            if s.step == 0:
                s.step = 1
                return task.await_(task.sleep(100))
            try:
                task.resume()
            except uvrun.CancelledError:
                log.append("cleaned")
                raise
            return task.done()

        def main(task, s):
            task.create_task(child)
            return task.done()
        runner.run(main)

    def test_gc_of_an_unclosed_runner_closes_it(self):
        log = []
        r = uvrun.Runner()
        self.leave_pending_task(r, log)
        del r
        gc.collect()
        self.assertEqual(log, ["cleaned"])

    def test_finalizer_on_another_thread_makes_a_zombie_reaped_by_the_owner(self):
        log = []
        holder = [uvrun.Runner()]
        self.leave_pending_task(holder[0], log)
        t = threading.Thread(target=holder.clear)  # the last reference dies there
        t.start()
        t.join()
        self.assertEqual(log, [])  # not closed on the wrong thread
        uvrun.run(sleeper(0, None))  # the owner's next runner call reaps it
        self.assertEqual(log, ["cleaned"])

    def test_finalizer_inside_a_step_defers_to_the_end_of_the_run(self):
        log = []
        holder = [uvrun.Runner()]
        self.leave_pending_task(holder[0], log)

        def main(task, s):
            holder.clear()  # a GC finalizer while a loop runs on this thread
            return task.done(list(log))
        self.assertEqual(uvrun.run(main), [])
        self.assertEqual(log, ["cleaned"])


class TestBoundary(unittest.TestCase):
    def test_null_handles_from_the_host_fail_cleanly(self):
        self.assertEqual(lib.uvrun_runner_close(None), -22)
        self.assertLess(lib.uvrun_task_await(None, None), 0)
        self.assertLess(lib.uvrun_task_resume(None, None), 0)
        lib.uvrun_runner_free(None)
        lib.uvrun_runner_free_v2(None)
        lib.uvrun_future_unref(None)
        lib.uvrun_error_unref(None)
        self.assertEqual(lib.uvrun_error_set_last(None), -22)
        with self.assertRaises(uvrun.Error):
            uvrun.Future(None)

    def test_bad_arguments_are_python_errors(self):
        with self.assertRaises(TypeError):
            uvrun.run(42)
        with self.assertRaises(TypeError):
            uvrun.run(lambda task, s: task.await_("not a future"))
        with self.assertRaises(uvrun.Error) as cm:
            uvrun.run(sleeper(0, None), executor_shutdown_timeout=-1)
        self.assertEqual(cm.exception.code, -22)
        self.assertIn("executor_shutdown_timeout", cm.exception.message)

    def test_registry_is_empty_after_runs(self):
        from uvrun import _objects
        gc.collect()
        before = len(_objects)
        for _ in range(3):
            uvrun.run(sleeper(0, [1]))
            try:
                uvrun.run(lambda task, s: 1 / 0)
            except ZeroDivisionError:
                pass
        gc.collect()
        self.assertEqual(len(_objects), before)

    def test_version(self):
        self.assertEqual(uvrun.version(), "%d.%d.%d" % ((lib.uvrun_version() >> 16) & 255,
                                                       (lib.uvrun_version() >> 8) & 255, lib.uvrun_version() & 255))


if __name__ == "__main__":
    unittest.main()
