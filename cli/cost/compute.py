"""Instance time a Cloud Run function is billed for, from its requests and their duration.

Request-based billing charges an instance's vCPU and memory while it handles at
least one request. With requests arriving evenly over the month at rate r, each
taking d seconds, the number in flight is Poisson with mean r*d: an instance is
busy a share 1 - exp(-r*d) of the time; once r*d exceeds one instance's
concurrency c, about r*d/c instances are busy; and when each request uses u
CPU-seconds, the autoscaler keeps r*u/(v*0.6) instances of v vCPUs (it aims at
60 % CPU utilization). The model takes the largest, does not round each busy
period up to 100 ms, and ignores minimum instances (0 in terraform), cold
starts and the daily rhythm of traffic (arrivals are spread evenly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cli.cost.workload import SECONDS_PER_MONTH

TARGET_CPU_UTILIZATION = 0.6  # Cloud Run's autoscaling target


@dataclass(frozen=True)
class FunctionShape:
    """What one instance of a function is given, and how long a request takes."""

    vcpu: float
    memory_gib: float
    concurrency: int
    request_seconds: float  # wall time of one request
    cpu_seconds: float = 0.0  # CPU one request uses


@dataclass(frozen=True)
class InstanceTime:
    """A month of billed instance time."""

    vcpu_seconds: float
    gib_seconds: float


def busy_instance_seconds(requests: float, shape: FunctionShape) -> float:
    """Instance-seconds in a month with instances handling `requests` requests."""
    if requests <= 0:
        return 0.0
    rate = requests / SECONDS_PER_MONTH
    load = rate * shape.request_seconds
    cpu_bound = rate * shape.cpu_seconds / (shape.vcpu * TARGET_CPU_UTILIZATION)
    busy_share = max(1.0 - math.exp(-load), load / shape.concurrency, cpu_bound)
    return busy_share * SECONDS_PER_MONTH


def instance_time(requests: float, shape: FunctionShape) -> InstanceTime:
    """The vCPU-seconds and GiB-seconds billed for a month of `requests`."""
    seconds = busy_instance_seconds(requests, shape)
    return InstanceTime(seconds * shape.vcpu, seconds * shape.memory_gib)
