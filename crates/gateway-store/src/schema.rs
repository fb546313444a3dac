//! diesel's view of the schema in `migrations/{sqlite,postgres}`.

diesel::table! {
    connections (organization, kind) {
        organization -> Text,
        kind -> Text,
        credentials -> Text,
        credentials_key_id -> Text,
        metadata -> Text,
        created_at -> BigInt,
        modified_at -> BigInt,
    }
}

diesel::table! {
    connection_tables (organization, connection, name) {
        organization -> Text,
        connection -> Text,
        name -> Text,
        resource -> Text,
        resource_params -> Text,
        connection_table_params -> Text,
        connection_table_metadata -> Text,
        status -> Text,
        created_at -> BigInt,
        modified_at -> BigInt,
    }
}
