-- What an audited action changed (JSON: field -> {old, new}); NULL on older
-- entries and on actions that change no field (a login).
ALTER TABLE audit_log ADD COLUMN changes TEXT;
