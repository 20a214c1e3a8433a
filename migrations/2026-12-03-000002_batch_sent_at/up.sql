-- When a batch's request was about to leave (after its wait for a slot of the account's budget).
-- An open batch without it certainly did nothing: it is given back at once, without asking the
-- platform. Noting it and giving a batch back lock the row, so they exclude each other.
ALTER TABLE dispatch_batches ADD COLUMN sent_at timestamptz;
