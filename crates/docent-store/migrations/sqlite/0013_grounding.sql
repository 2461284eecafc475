-- Grounding: what a bot does with an answer sentence its passages do not
-- support, and each generated answer's check (JSON, read whole).
ALTER TABLE bots ADD COLUMN unsupported_sentences TEXT NOT NULL DEFAULT 'flag'
    CHECK (unsupported_sentences IN ('flag', 'drop'));
ALTER TABLE chat_messages ADD COLUMN grounding TEXT;
