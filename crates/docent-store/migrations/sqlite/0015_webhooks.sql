-- Outbound webhooks: a tenant's endpoints (with the secret that signs what
-- they are sent) and each event's delivery to each endpoint.
CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    description           TEXT,
    events                TEXT NOT NULL,
    enabled               INTEGER NOT NULL DEFAULT 1,
    disabled_reason       TEXT,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    secret                TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
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
    attempts         INTEGER NOT NULL DEFAULT 0,
    response_status  INTEGER,
    error            TEXT,
    created_at       TEXT NOT NULL,
    last_attempt_at  TEXT,
    delivered_at     TEXT
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id);
