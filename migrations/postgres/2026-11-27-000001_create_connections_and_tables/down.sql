DROP INDEX connection_tables_by_resource;
DROP TABLE connection_tables;
DROP TABLE connections;
