//! Credentials sealed at rest: AES-256-GCM (aws-lc-rs, the TLS stack's own library) under the
//! current key, a fresh random nonce per write, the row's identity (organization and kind) as
//! associated data so a ciphertext cannot be moved to another row. Each row names its key id;
//! old keys keep opening rows until `gateway rotate-key` re-seals them.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::StoreError;

/// One 32-byte key. Its id is derived from it (a prefix of its SHA-256), so a wrong key can
/// never pass for the right one. `Debug` shows the id only.
pub struct EncryptionKey {
    id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({})", self.id)
    }
}

impl EncryptionKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<EncryptionKey, StoreError> {
        if bytes.len() != 32 {
            return Err(StoreError::Config(format!("an encryption key must be 32 bytes, got {}", bytes.len())));
        }
        let hash = digest(&SHA256, bytes);
        let id: String = hash.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| StoreError::Config("unusable encryption key".into()))?;
        Ok(EncryptionKey { id: format!("k{id}"), key: LessSafeKey::new(unbound) })
    }

    /// A key from its base64 form (as in `GATEWAY_ENCRYPTION_KEY`).
    pub fn from_base64(text: &str) -> Result<EncryptionKey, StoreError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| StoreError::Config("an encryption key must be base64 of 32 bytes".into()))?;
        EncryptionKey::from_bytes(&bytes)
    }

    /// A new random key and its base64 form.
    pub fn generate() -> Result<(EncryptionKey, String), StoreError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Config("no randomness for a key".into()))?;
        Ok((EncryptionKey::from_bytes(&bytes)?, B64.encode(bytes)))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current key, which seals, and old ones, which only open.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: Arc<EncryptionKey>,
    old: Vec<Arc<EncryptionKey>>,
}

impl Keyring {
    pub fn new(current: EncryptionKey, old: Vec<EncryptionKey>) -> Keyring {
        let old = old.into_iter().filter(|k| k.id != current.id).map(Arc::new).collect();
        Keyring { current: Arc::new(current), old }
    }

    /// A random key of its own (tests, throwaway databases).
    pub fn ephemeral() -> Keyring {
        let (key, _) = EncryptionKey::generate().unwrap_or_else(|_| unreachable!("the system RNG works"));
        Keyring::new(key, Vec::new())
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every key id this keyring can open.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(self.current.id.as_str()).chain(self.old.iter().map(|k| k.id.as_str())).collect()
    }

    fn key(&self, id: &str) -> Option<&EncryptionKey> {
        std::iter::once(&self.current).chain(self.old.iter()).find(|k| k.id == id).map(|k| &**k)
    }

    /// Seals under the current key: (key id, base64 of nonce || ciphertext || tag).
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &str) -> Result<(String, String), StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| StoreError::Sealing("no randomness for a nonce".into()))?;
        let mut buf = plaintext.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| StoreError::Sealing("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok((self.current.id.clone(), B64.encode(out)))
    }

    /// Opens what [`Keyring::seal`] made. Never returns garbage: a wrong key, a moved or
    /// altered ciphertext all fail authentication.
    pub(crate) fn open(&self, key_id: &str, sealed: &str, aad: &str) -> Result<Vec<u8>, StoreError> {
        let key = self.key(key_id).ok_or_else(|| {
            StoreError::Sealing(format!(
                "credentials are sealed under key {key_id}, which is not configured (keys: {}); add it to GATEWAY_ENCRYPTION_OLD_KEYS",
                self.ids().join(", ")
            ))
        })?;
        let raw = B64.decode(sealed).map_err(|_| StoreError::Sealing("sealed credentials are not base64".into()))?;
        if raw.len() < NONCE_LEN {
            return Err(StoreError::Sealing("sealed credentials are truncated".into()));
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Sealing("bad nonce".into()))?;
        let mut buf = rest.to_vec();
        let plain = key.key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf).map_err(|_| {
            StoreError::Sealing(format!("sealed credentials do not open under key {key_id}: altered or moved"))
        })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse() {
        let ring = Keyring::ephemeral();
        let (id, sealed) = ring.seal(b"{\"secret\":\"PasSW0rD\"}", "acme/S3").unwrap();
        assert_eq!(id, ring.current_id());
        assert!(!sealed.contains("PasSW0rD"));
        assert_eq!(ring.open(&id, &sealed, "acme/S3").unwrap(), b"{\"secret\":\"PasSW0rD\"}");
        assert!(ring.open(&id, &sealed, "evil/S3").is_err(), "bound to its row");
        let (again_id, again) = ring.seal(b"{\"secret\":\"PasSW0rD\"}", "acme/S3").unwrap();
        assert_eq!(again_id, id);
        assert_ne!(again, sealed, "a fresh nonce every time");

        let other = Keyring::ephemeral();
        let err = other.open(&id, &sealed, "acme/S3").unwrap_err().to_string();
        assert!(err.contains("not configured"), "{err}");
        let rotated = Keyring::new(EncryptionKey::generate().unwrap().0, vec![]);
        assert!(rotated.open(&id, &sealed, "acme/S3").is_err());
    }

    #[test]
    fn keys_from_base64() {
        let (k, text) = EncryptionKey::generate().unwrap();
        assert_eq!(EncryptionKey::from_base64(&text).unwrap().id(), k.id());
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
        assert!(EncryptionKey::from_base64("not base64!").is_err());
        assert!(!format!("{k:?}").contains(&text));
    }
}
