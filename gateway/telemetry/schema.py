"""The telemetry database's tables (SQLAlchemy Core: rows are written in bulk, never as ORM
objects): one row per upstream attempt, and the stored Responses API responses."""

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

# Responses kept for `previous_response_id` and `item_reference` (gateway/telemetry/
# response_store.py): each row holds its own request's input items and the response object;
# a conversation is the chain of rows linked by `previous_response_id`.
responses = Table(
    "gateway_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("previous_response_id", String(64)),
    Column("input_items", Text, nullable=False),
    Column("response", Text, nullable=False),
    Index("ix_gateway_responses_created", "created_at"),
)

# Each stored output item by its id, for `{"type": "item_reference", "id": ...}`.
response_items = Table(
    "gateway_response_items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("response_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("item", Text, nullable=False),
    Index("ix_gateway_response_items_response", "response_id"),
    Index("ix_gateway_response_items_created", "created_at"),
)
