-- Connections: one per (organization, kind). Credentials are sealed (AES-256-GCM, base64 of
-- nonce and ciphertext) under the key named by credentials_key_id. Other JSON is stored as text.
CREATE TABLE connections (
    organization TEXT NOT NULL,
    kind TEXT NOT NULL,
    credentials TEXT NOT NULL,
    credentials_key_id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (organization, kind)
);

-- Tables: one per (organization, connection, name). LOCAL tables have no connection row,
-- so there is no foreign key; the store deletes a connection's tables itself.
-- The primary key serves GET /tables/?connection= and its (connection, name) order.
CREATE TABLE connection_tables (
    organization TEXT NOT NULL,
    connection TEXT NOT NULL,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_params TEXT NOT NULL DEFAULT '{}',
    connection_table_params TEXT NOT NULL DEFAULT '{}',
    connection_table_metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (organization, connection, name)
);

-- Serves GET /tables/?resource= (with or without connection) in (connection, name) order.
CREATE INDEX connection_tables_by_resource
    ON connection_tables (organization, resource, connection, name);
