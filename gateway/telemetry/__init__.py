"""Telemetry: one row per upstream attempt, written off the request path."""

from gateway.telemetry.records import AttemptRecord, Outcome
from gateway.telemetry.writer import TelemetryWriter

__all__ = ["AttemptRecord", "Outcome", "TelemetryWriter"]
