"""The telemetry table (SQLAlchemy Core: rows are written in bulk, never as ORM objects)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

attempts = Table(
    "gateway_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("virtual_model", String(200)),
    Column("provider", String(100), nullable=False),
    Column("model", String(300), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("http_status", Integer),
    Column("error_class", String(100)),
    Column("error_message", Text),
    Column("latency_ms", Float),
    Column("ttft_ms", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("tokens_per_second", Float),
    Column("cost", Float, nullable=False, default=0.0),
    Column("stream", Boolean, nullable=False),
    Column("client", String(300)),
    Column("fallback_reason", Text),
    Index("ix_gateway_attempts_ts", "ts"),
    Index("ix_gateway_attempts_model_ts", "model", "ts"),
    Index("ix_gateway_attempts_request", "request_id"),
)
