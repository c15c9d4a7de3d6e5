-- feedbridge schema 2: sources made on the web page, and the config version every node watches.

CREATE TABLE page_sources (
    name       text PRIMARY KEY,
    config     jsonb NOT NULL,             -- the [[sources]] table as the page wrote it
    revision   bigint NOT NULL DEFAULT 1,  -- rises with each save: an edit names where it started
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);

-- one row: rises with every change of page_sources; a node that sees it move reloads
CREATE TABLE config_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);
