"""Joining a Ray cluster, with the error an operator can act on when Ray is missing or unreachable."""

from __future__ import annotations

from typing import Any


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # the default install stays light: Ray is an optional extra
        raise RayUnavailableError('Ray is not installed: pip install -e ".[ray]"') from exc
    return ray


def connect(address: str, namespace: str) -> Any:
    """`ray.init(address)` once per process (a second call with a running connection is a no-op)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        # log_to_driver=False: actors' model-loading chatter stays in the cluster's logs, not in the server's.
        ray.init(address=address, namespace=namespace, log_to_driver=False, configure_logging=False)
    except ConnectionError as exc:
        raise RayUnavailableError(
            f"no Ray cluster at {address!r}: start one with `ray start --head` (see README, running on a cluster) "
            f"or pass its address to --ray"
        ) from exc
    return ray


def has_gpus(ray: Any) -> bool:
    return float(ray.cluster_resources().get("GPU", 0)) > 0
