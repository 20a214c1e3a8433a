ALTER TABLE dispatch_batches DROP COLUMN sent_at;
