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
        status -> Nullable<Text>,
        checked_at -> Nullable<BigInt>,
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
        stale_since -> Nullable<BigInt>,
    }
}

diesel::table! {
    scheduled_checks (organization, connection, name) {
        organization -> Text,
        connection -> Text,
        name -> Text,
        due_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        failures -> Integer,
        last_checked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhooks (organization, id) {
        organization -> Text,
        id -> Text,
        url -> Text,
        events -> Text,
        description -> Text,
        secret -> Text,
        secret_key_id -> Text,
        created_at -> BigInt,
        modified_at -> BigInt,
        failures -> Integer,
        open_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (event_id, webhook_id) {
        event_id -> Text,
        organization -> Text,
        webhook_id -> Text,
        event -> Text,
        payload -> Text,
        created_at -> BigInt,
        next_attempt_at -> BigInt,
        attempts -> Integer,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        subject -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        organization -> Text,
        at -> BigInt,
        sub -> Text,
        role -> Text,
        action -> Text,
        target -> Text,
        fields -> Text,
    }
}

diesel::table! {
    validations (organization, id) {
        organization -> Text,
        id -> Text,
        connection -> Text,
        name -> Text,
        state -> Text,
        created_at -> BigInt,
        due_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        request -> Text,
        progress -> Text,
        report -> Nullable<Text>,
        error -> Nullable<Text>,
        attempts -> Integer,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    table_schemas (organization, connection, name, seq) {
        organization -> Text,
        connection -> Text,
        name -> Text,
        seq -> BigInt,
        at -> BigInt,
        observed -> Text,
        unit -> Nullable<Text>,
        diff -> Text,
    }
}
