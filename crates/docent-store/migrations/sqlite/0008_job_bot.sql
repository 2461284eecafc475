-- The bot a job works for (a crawl's bot, an ingested document's bot), so a
-- bot's activity is one indexed lookup. NULL only for jobs of no bot.
ALTER TABLE jobs ADD COLUMN bot_id TEXT;
UPDATE jobs SET bot_id = CASE kind
    WHEN 'crawl' THEN json_extract(payload, '$.bot_id')
    ELSE (SELECT d.bot_id FROM documents d
          WHERE d.tenant_id = jobs.tenant_id AND d.id = json_extract(jobs.payload, '$.document_id'))
END;
CREATE INDEX jobs_by_bot_status ON jobs (tenant_id, bot_id, status);
