-- Audit events are listed like every list: by (at, id). Index that order.
CREATE INDEX events_at_seq ON events (at, seq);
