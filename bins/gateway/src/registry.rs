//! The one list of connectors this gateway serves. Adding a provider is a line here.

use std::sync::Arc;

use gateway_connector::{DuplicateConnector, OutboundClient, Registry};
use gateway_connector_object_store::{GcsConnector, LocalConnector, ObjectStoreSettings, S3Connector};

/// Every registered connector, each given the one guarded outbound client. Kinds without one
/// are stored but answer 501 CONNECTOR_UNAVAILABLE to their test and preview endpoints.
pub fn registry(
    outbound: &OutboundClient,
    object_stores: &ObjectStoreSettings,
    local: LocalConnector,
) -> Result<Registry, DuplicateConnector> {
    let local = Arc::new(local);
    Ok(Registry::new()
        .with(Arc::new(S3Connector::new(outbound.clone(), object_stores)))?
        .with(Arc::new(GcsConnector::new(outbound.clone(), object_stores)))?
        .with(local.clone())?
        .with_uploads(local))
}

#[cfg(test)]
mod tests {
    use gateway_connector::{FieldType, OutboundSettings, outbound::check_host_value};
    use gateway_domain::JsonObject;
    use serde_json::Value;

    use super::*;

    /// For every host-bearing credential field of every registered connector, the values that
    /// could reach inside are refused, naming the field.
    #[test]
    fn every_host_field_refuses_inside_targets() {
        let outbound = OutboundClient::new(OutboundSettings::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let local = LocalConnector::from_url(&dir.path().display().to_string()).unwrap();
        let registry = registry(&outbound, &ObjectStoreSettings::default(), local).unwrap();
        let bad = [
            "https://127.0.0.1",
            "https://169.254.169.254",
            "https://[::1]",
            "https://localhost",
            "https://evil.example@real-host.com",
            "https://storage.example.com:8443",
            "https://storage.example.com/path",
            "http://storage.example.com",
            "https://10.1.2.3",
            "https://[::ffff:127.0.0.1]",
        ];
        let mut checked = 0;
        for kind in registry.kinds() {
            let connector = registry.get(kind).unwrap();
            let spec = connector.credential_spec();
            for field in spec.fields.iter().filter(|f| f.host.is_some()) {
                // Every other required field filled, so the host field is what is judged.
                let mut creds = JsonObject::new();
                for f in spec.fields.iter().filter(|f| f.required) {
                    let v = match f.ty {
                        FieldType::Object => Value::Object(JsonObject::new()),
                        FieldType::Integer => Value::from(1),
                        FieldType::Boolean => Value::from(true),
                        _ => Value::from("x"),
                    };
                    creds.insert(f.name.to_owned(), v);
                }
                for value in bad {
                    assert!(check_host_value(value, field.host.unwrap()).is_err(), "{kind}.{}: {value}", field.name);
                    creds.insert(field.name.to_owned(), value.into());
                    let p = connector.validate_credentials(&creds).expect_err(value);
                    assert_eq!(p.field(), Some(format!("credentials.{}", field.name).as_str()), "{kind}: {value}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= bad.len(), "S3's endpoint at least: {checked}");
    }
}
