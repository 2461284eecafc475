-- Outbound webhooks, as in SQLite (0015).
CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    description           TEXT,
    events                TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason       TEXT,
    consecutive_failures  BIGINT NOT NULL DEFAULT 0,
    secret                TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, id);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    response_status  BIGINT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    last_attempt_at  TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id);
