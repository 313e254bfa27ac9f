-- Run once by the postgres image when its volume is empty (compose.yaml). The gateway's
-- telemetry lives in the database `gateway` (POSTGRES_DB); LiteLLM's database mode gets a
-- database of its own, so that its migrations never meet the gateway's tables.
CREATE DATABASE litellm;
