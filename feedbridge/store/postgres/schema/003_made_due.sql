-- feedbridge schema 3: a source made due by a change of its config is polled once, across nodes.

-- the fingerprint of the config the source was last made due for: every node that reloads the
-- same change makes it due with the same fingerprint, and only the first one's call counts
ALTER TABLE sources ADD COLUMN due_config text;
-- made due and not claimed since: while it is, only a node running `due_config` claims it (for
-- a while), and a poll that held the lease meanwhile leaves the source due, not scheduled
ALTER TABLE sources ADD COLUMN due_pending boolean NOT NULL DEFAULT false;
