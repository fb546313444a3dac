//! The connectors a gateway serves, filled explicitly by the binary at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use gateway_domain::ConnectionKind;

use crate::{Connector, Uploads};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("two connectors are registered for {0}")]
pub struct DuplicateConnector(pub ConnectionKind);

#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<ConnectionKind, Arc<dyn Connector>>,
    uploads: Option<Arc<dyn Uploads>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.connectors.keys()).finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn register(&mut self, connector: Arc<dyn Connector>) -> Result<(), DuplicateConnector> {
        let kind = connector.kind();
        if self.connectors.contains_key(&kind) {
            return Err(DuplicateConnector(kind));
        }
        self.connectors.insert(kind, connector);
        Ok(())
    }

    /// Registers a connector in place of the one serving its kind, if any: an embedder's own
    /// provider, or a test double. Answers the one it replaced.
    pub fn replace(&mut self, connector: Arc<dyn Connector>) -> Option<Arc<dyn Connector>> {
        self.connectors.insert(connector.kind(), connector)
    }

    /// Builder form of [`Registry::register`].
    pub fn with(mut self, connector: Arc<dyn Connector>) -> Result<Self, DuplicateConnector> {
        self.register(connector)?;
        Ok(self)
    }

    pub fn get(&self, kind: ConnectionKind) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(&kind)
    }

    /// Sets where LOCAL tables' files are uploaded.
    pub fn with_uploads(mut self, uploads: Arc<dyn Uploads>) -> Self {
        self.uploads = Some(uploads);
        self
    }

    pub fn uploads(&self) -> Option<&Arc<dyn Uploads>> {
        self.uploads.as_ref()
    }

    pub fn kinds(&self) -> impl Iterator<Item = ConnectionKind> + '_ {
        self.connectors.keys().copied()
    }
}
