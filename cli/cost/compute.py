"""Instance time a Cloud Run function is billed for, from its requests and their duration.

Request-based billing charges an instance's vCPU and memory while it handles at
least one request. With requests arriving evenly over the month at rate r, each
taking d seconds, the number in flight is Poisson with mean r*d: an instance is
busy a share 1 - exp(-r*d) of the time, and once r*d exceeds one instance's
concurrency c, about r*d/c instances are busy. The model takes the larger, does
not round each busy period up to 100 ms, and ignores minimum instances (0 in
terraform) and cold starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cli.cost.workload import SECONDS_PER_MONTH


@dataclass(frozen=True)
class FunctionShape:
    """What one instance of a function is given, and how long a request takes."""

    vcpu: float
    memory_gib: float
    concurrency: int
    request_seconds: float


@dataclass(frozen=True)
class InstanceTime:
    """A month of billed instance time."""

    vcpu_seconds: float
    gib_seconds: float


def busy_instance_seconds(requests: float, shape: FunctionShape) -> float:
    """Instance-seconds in a month with instances handling `requests` requests."""
    if requests <= 0:
        return 0.0
    load = requests / SECONDS_PER_MONTH * shape.request_seconds
    busy_share = max(1.0 - math.exp(-load), load / shape.concurrency)
    return busy_share * SECONDS_PER_MONTH


def instance_time(requests: float, shape: FunctionShape) -> InstanceTime:
    """The vCPU-seconds and GiB-seconds billed for a month of `requests`."""
    seconds = busy_instance_seconds(requests, shape)
    return InstanceTime(seconds * shape.vcpu, seconds * shape.memory_gib)
