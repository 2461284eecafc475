-- The usage ledger rolled up per UTC day and kind, written in the same
-- transaction as each ledger event: the usage page and
-- `GET /admin/usage/daily` read a row per day and kind instead of summing
-- every event of a busy month.
CREATE TABLE usage_days (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, kind)
) WITHOUT ROWID;

INSERT INTO usage_days (tenant_id, day, kind, quantity)
SELECT tenant_id, substr(created_at, 1, 10), kind, SUM(quantity)
  FROM usage_events GROUP BY tenant_id, substr(created_at, 1, 10), kind;
