DROP TABLE table_schemas;
