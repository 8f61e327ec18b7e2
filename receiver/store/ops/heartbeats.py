"""Operations on the watchdog's heartbeats: the latest arrival time, by alert name."""

from __future__ import annotations

from receiver.store.ops.sql import Op, Q


def record_heartbeat(pg: bool, name: str, at: float) -> Op:
    """Remember that ``name``'s heartbeat arrived at ``at``; an earlier time never replaces a
    later one (receivers' clocks and commits interleave)."""
    latest = "GREATEST" if pg else "max"
    yield Q("INSERT INTO heartbeats (name, received_at) VALUES (?, ?) ON CONFLICT (name) DO "
            f"UPDATE SET received_at = {latest}(heartbeats.received_at, excluded.received_at)",
            (name, at), "none")


def last_heartbeat(name: str) -> Op:
    """When ``name``'s latest heartbeat arrived; None if none ever did."""
    rows = yield Q("SELECT received_at FROM heartbeats WHERE name = ?", (name,))
    return float(rows[0]["received_at"]) if rows else None
