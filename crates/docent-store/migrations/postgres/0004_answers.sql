-- Whether an answer answered (false: the bot said it does not know) and why
-- the model stopped (`stop`, `length`); NULL on questions and older rows.
ALTER TABLE chat_messages ADD COLUMN answered BOOLEAN;
ALTER TABLE chat_messages ADD COLUMN finish_reason TEXT;

-- A floor of 0.0 was the old default and filtered nothing; NULL now means the
-- calibrated default of the bot's embedder.
UPDATE bots SET retrieval = jsonb_set(retrieval::jsonb, '{min_score}', 'null'::jsonb)::text
WHERE (retrieval::jsonb ->> 'min_score')::double precision = 0;

-- A bot's bound on answer length, in tokens; NULL: the instance default.
ALTER TABLE bots ADD COLUMN max_tokens BIGINT;
