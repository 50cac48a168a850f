"""Locust side of scripts/bench/http_cost.sh: FastHttpUser, one GET /1k per task.

LOCUST_RATE_PER_USER > 0 paces each user with constant_throughput (users x that = the target rate);
0 (default) = no wait (closed loop, as fast as the target answers).
"""
import os

from locust import FastHttpUser, constant, constant_throughput, task

_PER_USER = float(os.environ.get("LOCUST_RATE_PER_USER", "0") or 0)


class Get1k(FastHttpUser):
    wait_time = constant_throughput(_PER_USER) if _PER_USER > 0 else constant(0)

    @task
    def get_1k(self):
        self.client.get("/1k")
