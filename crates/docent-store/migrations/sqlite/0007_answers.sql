-- Whether an answer answered (false: the bot said it does not know) and why
-- the model stopped (`stop`, `length`); NULL on questions and older rows.
ALTER TABLE chat_messages ADD COLUMN answered INTEGER;
ALTER TABLE chat_messages ADD COLUMN finish_reason TEXT;

-- A floor of 0.0 was the old default and filtered nothing; NULL now means the
-- calibrated default of the bot's embedder.
UPDATE bots SET retrieval = json_set(retrieval, '$.min_score', json('null'))
WHERE json_extract(retrieval, '$.min_score') = 0;

-- A bot's bound on answer length, in tokens; NULL: the instance default.
ALTER TABLE bots ADD COLUMN max_tokens INTEGER;
