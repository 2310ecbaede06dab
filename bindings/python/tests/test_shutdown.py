"""Shutdown as a host sees it: the hook on each close step (X9), the error a failed close keeps (R62), and
the log threshold (X10)."""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import uvrun  # noqa: E402

STEPS = ["cancel_tasks", "shutdown_asyncgens", "shutdown_default_executor", "close_loop"]


def returning(value):
    def step(task, state):
        return task.done(value)
    return step


def sleeper_forever(task, state):
    if state.step == 0:
        state.step = 1
        return task.await_(task.sleep(30))
    task.resume()  # raises the cancellation
    return task.done(None)


class TestShutdownHook(unittest.TestCase):
    def test_x9_a_clean_run_announces_every_step_in_order(self):
        events = []
        self.assertEqual(uvrun.run(returning(1), shutdown_hook=events.append), 1)
        self.assertEqual([(e.step, e.end) for e in events],
                         [(s, end) for s in STEPS for end in (False, True)])
        self.assertTrue(all(e.count == 0 and e.status == 0 for e in events))
        self.assertEqual(events[4].timeout, 300.0)

    def test_x9_leftover_tasks_are_counted(self):
        events = []

        def main(task, state):
            task.create_task(sleeper_forever)
            task.create_task(sleeper_forever)
            return task.done(None)
        uvrun.run(main, shutdown_hook=events.append)
        self.assertEqual(events[0], uvrun.ShutdownEvent("cancel_tasks", False, 0, 2, 0.0, events[0].time))
        self.assertEqual(events[1].count, 0)

    def test_x9_an_executor_timeout_shows_the_job_still_running(self):
        events = []
        done = threading.Event()

        def main(task, state):
            task.run_in_executor(lambda: (time.sleep(0.3), done.set()))
            return task.done(None)
        uvrun.set_log_sink(lambda level, msg: None)  # the timeout's warning
        try:
            uvrun.run(main, executor_shutdown_timeout=0.05, shutdown_hook=events.append)
        finally:
            uvrun.set_log_sink(None)
        executor = [e for e in events if e.step == "shutdown_default_executor"]
        self.assertEqual([(e.end, e.count, e.timeout) for e in executor], [(False, 1, 0.05), (True, 1, 0.05)])
        self.assertTrue(done.wait(5))

    def test_x9_a_runner_announces_on_close_and_a_failing_hook_does_not_stop_it(self):
        seen = []
        unraisable = []

        def hook(event):
            seen.append(event.step)
            raise RuntimeError("hook failed")
        previous = sys.unraisablehook
        sys.unraisablehook = unraisable.append
        try:
            with uvrun.Runner(shutdown_hook=hook) as runner:
                self.assertEqual(runner.run(returning(5)), 5)
                self.assertEqual(seen, [])
        finally:
            sys.unraisablehook = previous
        self.assertEqual(seen, [s for s in STEPS for _ in (0, 1)])
        self.assertEqual(len(unraisable), 8)
        self.assertIsInstance(unraisable[0].exc_value, RuntimeError)


class TestCloseErrors(unittest.TestCase):
    def test_r62_an_interrupt_while_closing_wins_and_keeps_the_main_error_as_context(self):
        def leftover(task, state):
            if state.step == 0:
                state.step = 1
                return task.await_(task.sleep(30))
            raise KeyboardInterrupt

        def main(task, state):
            if state.step == 0:
                state.step = 1
                task.create_task(leftover)
                return task.yield_()
            raise ValueError("main failed")
        reports = []
        with self.assertRaises(KeyboardInterrupt) as caught:
            uvrun.run(main, exception_handler=lambda loop, ctx: reports.append(ctx))
        self.assertIsInstance(caught.exception.__context__, ValueError)
        self.assertEqual(str(caught.exception.__context__), "main failed")
        self.assertEqual([r["message"] for r in reports],
                         ["the main task's error, superseded by an interrupt while closing the loop"])


class TestLogLevel(unittest.TestCase):
    def test_x10_set_log_level_returns_the_previous_and_refuses_nonsense(self):
        before = uvrun.get_log_level()
        self.assertEqual(uvrun.set_log_level(40), before)
        self.assertEqual(uvrun.set_log_level(before), 40)
        with self.assertRaises(uvrun.Error):
            uvrun.set_log_level(-1)

    def test_x10_the_debug_close_line_shows_only_when_asked_for(self):
        code = ("import uvrun\n"
                "uvrun.run(lambda task, state: task.done(None), debug=True)\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        env.pop("UVRUN_LOG_LEVEL", None)
        quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        env["UVRUN_LOG_LEVEL"] = "DEBUG"
        loud = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertNotIn("Close <uvrun loop", quiet.stderr)
        self.assertIn("uvrun: Close <uvrun loop", loud.stderr)


if __name__ == "__main__":
    unittest.main()
