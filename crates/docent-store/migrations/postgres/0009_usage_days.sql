-- The usage ledger rolled up per UTC day and kind, as in SQLite (0014).
CREATE TABLE usage_days (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, kind)
);

INSERT INTO usage_days (tenant_id, day, kind, quantity)
SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), kind, SUM(quantity)
  FROM usage_events
 GROUP BY tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), kind;
