"""Checks gpuctl.py against a running gpuctld (GPUCTL_SOCKET) with the test suite's fake backends.

Run by ContribTests: python3 -m unittest contrib/python/test_gpuctl.py (from the repository root).
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpuctl  # noqa: E402


class GpuctlModuleTests(unittest.TestCase):
    def setUp(self):
        self.client = gpuctl.Client(timeout=60)

    def test_status_and_ping(self):
        self.assertEqual(self.client.call("ping"), {"pong": True})
        status = self.client.status()
        self.assertEqual(status["backends"]["ollama"]["state"], "up")
        self.assertGreater(status["budget"]["total"], 0)

    def test_swap_then_generate_streams_text(self):
        swapped = self.client.swap("small")
        self.assertEqual(swapped["model"], "llama3.2:3b")
        self.assertIn("llama3.2:3b", swapped["resident"])
        pieces = list(self.client.generate("small", "Say something.", options={"num_predict": 4}))
        self.assertEqual(len(pieces), 4)
        self.assertEqual("".join(pieces), "The quick brown fox")

    def test_errors_carry_their_kind(self):
        with self.assertRaises(gpuctl.GpuctlError) as raised:
            self.client.swap("no-such-model")
        self.assertEqual(raised.exception.kind, "model_not_found")
        with self.assertRaises(gpuctl.GpuctlError) as raised:
            self.client.call("stauts")
        self.assertEqual(raised.exception.kind, "method_not_found")
        self.assertIn("status", raised.exception.message)
        with self.assertRaises(gpuctl.GpuctlError) as raised:
            gpuctl.Client("/nonexistent/gpuctld.sock").status()
        self.assertEqual(raised.exception.kind, "not_running")

    def test_events_follow_a_model_load(self):
        seen = []
        events = self.client.events(["model"])
        first = next(events)
        self.assertEqual(first["type"], "subscribed")
        loader = threading.Thread(target=lambda: self.client.swap("llama3.1:8b"))
        loader.start()
        for event in events:
            seen.append(event)
            if event["type"] == "model.loaded" and event["model"] == "llama3.1:8b":
                break
        events.close()
        loader.join()
        self.assertTrue(all(event["type"].startswith("model.") for event in seen))
        self.assertGreater(seen[-1]["bytes"], 0)

    def test_default_socket_follows_the_environment(self):
        self.assertEqual(gpuctl.default_socket({"GPUCTL_SOCKET": "/x.sock"}), "/x.sock")
        self.assertEqual(gpuctl.default_socket({}), "/run/gpuctl/gpuctld.sock")


if __name__ == "__main__":
    unittest.main()
