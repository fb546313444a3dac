//! Uploads of LOCAL tables' files: `PUT /uploads/{token}`, the token signed (HS256 under a
//! key of its own, so it can never pass for a bearer token), expiring, and bound to the
//! organization and the table. The file is streamed into the platform's storage (never held
//! whole), then previewed: the table becomes `available`, or `wrong_specification` with the
//! reason.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gateway_connector::{Holding, SetFile, Uploads};
use gateway_domain::{
    ConnectionKind, ErrorName, OrganizationId, Paging, Problem, Table, TableName, TablePreview, TableStatus,
    UploadedFiles, now_seconds,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::Gateway;

/// How long an upload URL stays valid.
pub const UPLOAD_TTL_SECONDS: i64 = 24 * 3600;

/// The key upload URLs are signed with. The binary derives it from the JWT secret.
#[derive(Clone)]
pub struct UploadKey(Vec<u8>);

impl std::fmt::Debug for UploadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadKey(..)")
    }
}

impl UploadKey {
    /// The upload key of a bearer-token secret: the secret with a purpose suffix, so one key
    /// never verifies the other's tokens.
    pub fn derive(secret: &[u8]) -> UploadKey {
        let mut k = secret.to_vec();
        k.extend_from_slice(b"|gateway-uploads-v1");
        UploadKey(k)
    }

    /// A key of its own (embedding, tests): URLs signed with it die with the process.
    pub fn random() -> UploadKey {
        let mut k = vec![0u8; 32];
        // Without randomness no key is safe: fall back to nothing guessable is impossible, so
        // fail loudly at start-up rather than sign with zeros.
        if getrandom::fill(&mut k).is_err() {
            panic!("no randomness for an upload key");
        }
        UploadKey(k)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// What the token is for; bearer tokens have no such claim.
    purpose: String,
    org: String,
    table: String,
    exp: i64,
    /// Makes each URL unique: a table deleted and created again gets a URL of its own.
    #[serde(default)]
    jti: String,
}

/// A token for uploading the file of table `name` of `org`.
pub fn issue(key: &UploadKey, org: &OrganizationId, name: &TableName, ttl: i64) -> Result<String, Problem> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)
        .map_err(|_| Problem::new(ErrorName::InternalError, "no randomness for an upload URL"))?;
    let claims = Claims {
        purpose: "upload".into(),
        org: org.as_str().into(),
        table: name.as_str().into(),
        exp: now_seconds() + ttl,
        jti: nonce.iter().map(|b| format!("{b:02x}")).collect(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&key.0))
        .map_err(|_| Problem::new(ErrorName::InternalError, "cannot sign an upload token"))
}

fn decode(key: &UploadKey, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp"]);
    v.leeway = 0;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key.0), &v).map(|d| d.claims)
}

/// The organization and table a valid token is bound to.
pub fn verify(key: &UploadKey, token: &str) -> Result<(OrganizationId, TableName), Problem> {
    let refused = |m: &str| Problem::new(ErrorName::Unauthorized, m.to_owned());
    let c = decode(key, token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            refused("the upload URL has expired: PATCH the table again for a new one")
        }
        _ => refused("the upload URL is not valid"),
    })?;
    if c.purpose != "upload" {
        return Err(refused("the upload URL is not valid"));
    }
    let org = OrganizationId::parse(&c.org).map_err(|_| refused("the upload URL is not valid"))?;
    let name = TableName::parse(&c.table).map_err(|_| refused("the upload URL is not valid"))?;
    Ok((org, name))
}

/// Whether a stored upload URL still serves this table with a day's margin (else a new one
/// is made, so a URL handed out is good for a while).
pub fn still_valid(key: &UploadKey, url: &str, org: &OrganizationId, name: &TableName) -> bool {
    let Some(token) = url.rsplit("/uploads/").next() else { return false };
    matches!(verify(key, token), Ok((o, n)) if &o == org && &n == name)
        && decode(key, token).is_ok_and(|c| c.exp > now_seconds() + UPLOAD_TTL_SECONDS / 2)
}

/// The upload URL a table keeps: the stored one while it is good, else a new one.
pub(crate) fn upload_url(
    key: &UploadKey,
    public_url: &str,
    stored: Option<&Table>,
    org: &OrganizationId,
    name: &TableName,
) -> Result<String, Problem> {
    let kept = stored
        .and_then(|s| s.connection_table_params.get("url"))
        .and_then(serde_json::Value::as_str)
        .filter(|u| still_valid(key, u, org, name));
    match kept {
        Some(u) => Ok(u.to_owned()),
        None => Ok(format!("{public_url}/uploads/{}", issue(key, org, name, UPLOAD_TTL_SECONDS)?)),
    }
}

impl Gateway {
    /// Receives a table's file: the token checked, the body streamed into the platform's
    /// storage within the size limit (`declared` is the Content-Length, refused early when
    /// over), then the table previewed and its status recorded. `file` (`?file=`) names one
    /// file of the table's set, added or replaced; without it the upload is the table's one
    /// file. A table holds one or the other: mixing them is refused (`field` = `file`).
    pub async fn receive_upload<S, E>(
        &self,
        token: &str,
        file: Option<&str>,
        declared: Option<u64>,
        mut body: S,
    ) -> Result<TablePreview, Problem>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (org, name) = verify(&self.settings().upload_key, token)?;
        let file = file.map(SetFile::parse).transpose()?;
        let storage = self.registry().uploads().cloned().ok_or_else(|| {
            Problem::new(ErrorName::ConnectorUnavailable, "this gateway has no LOCAL storage to upload to")
        })?;
        let kind = gateway_domain::ConnectionKind::Local;
        let (o, n) = (org.clone(), name.clone());
        let table = self.db(move |s| s.get_table(&o, kind, &n)).await?.ok_or_else(|| {
            Problem::new(ErrorName::TableNotFound, format!("no LOCAL table '{name}': it was deleted"))
                .with("name", name.as_str())
        })?;
        // The URL must be the one the table holds now: one handed out before the table was
        // deleted and created again does not write the new table's file.
        let current = table
            .connection_table_params
            .get("url")
            .and_then(serde_json::Value::as_str)
            .and_then(|u| u.rsplit("/uploads/").next());
        if current != Some(token) {
            return Err(Problem::new(
                ErrorName::Unauthorized,
                "the upload URL is no longer this table's: PATCH the table and use the URL it answers",
            ));
        }
        let max = self.settings().upload_max_bytes;
        let too_large = || {
            Problem::new(ErrorName::PayloadTooLarge, format!("the file is larger than the {max}-byte upload limit"))
                .with("limit", max)
        };
        if declared.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        // Each upload is previewed: it counts against the organization's tests a minute, and
        // its uploads in flight (how many, how many bytes) are held to the operator's limits.
        self.inner.limits.count(&org)?;
        let mut uploading = self.inner.limits.upload(&org)?;
        self.check_holding(storage.as_ref(), &org, &name, file.as_ref()).await?;
        let mut writer = storage.open(&org, &name, file.as_ref()).await.map_err(|e| crate::connector_problem(&e))?;
        let mut total: u64 = 0;
        let idle = self.settings().upload_idle_timeout;
        loop {
            // A client that stops sending is given up on, not waited for forever.
            let next = match tokio::time::timeout(idle, body.next()).await {
                Ok(next) => next,
                Err(_) => {
                    writer.abort().await;
                    return Err(Problem::wrong_data(format!(
                        "the upload sent nothing for {} s and was given up: the stored file is unchanged",
                        idle.as_secs()
                    )));
                }
            };
            let Some(chunk) = next else { break };
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    writer.abort().await;
                    return Err(Problem::wrong_data(format!("the upload was interrupted: {e}")));
                }
            };
            total += chunk.len() as u64;
            if total > max {
                writer.abort().await;
                return Err(too_large());
            }
            if let Err(p) = uploading.count(chunk.len() as u64) {
                writer.abort().await;
                return Err(p);
            }
            if let Err(e) = writer.write(chunk).await {
                writer.abort().await;
                return Err(crate::connector_problem(&e));
            }
        }
        let size = writer.finish().await.map_err(|e| crate::connector_problem(&e))?;
        drop(uploading);
        tracing::info!(table = %name, bytes = size, "LOCAL file uploaded");
        let _admitted = self.inner.limits.admit_counted(&org, self.settings().connector_timeout).await?;
        let actor = gateway_domain::Actor::system("upload");
        let note = match &file {
            None => format!("uploaded {size} bytes"),
            Some(f) => format!("uploaded {size} bytes as '{f}'"),
        };
        self.preview_and_record(None, table, vec![note], &actor).await
    }

    /// An upload that fits what the table holds: a named file into a set (within the set's
    /// bound unless it replaces one), an unnamed one into a table that is not a set.
    async fn check_holding(
        &self,
        storage: &dyn Uploads,
        org: &OrganizationId,
        name: &TableName,
        file: Option<&SetFile>,
    ) -> Result<(), Problem> {
        let holding = storage.holding(org, name).await.map_err(|e| crate::connector_problem(&e))?;
        let files_url = format!("/connections/LOCAL/tables/{name}/files/");
        match (file, holding) {
            (Some(_), Holding::One) => Err(Problem::wrong_field(
                "file",
                format!(
                    "LOCAL table '{name}' holds one file uploaded without a name: DELETE {files_url} to empty it before uploading named files"
                ),
            )),
            (None, Holding::Set) => Err(Problem::wrong_field(
                "file",
                format!(
                    "LOCAL table '{name}' is a set of named files: name this one with ?file=, or DELETE {files_url} to empty it first"
                ),
            )),
            (Some(f), Holding::Set) => {
                let files = storage.files(org, name).await.map_err(|e| crate::connector_problem(&e))?;
                let max = storage.max_files();
                let replaces = files.iter().any(|u| u.file.as_deref() == Some(f.as_str()));
                if files.len() >= max && !replaces {
                    return Err(Problem::quota(
                        "files in LOCAL table's set",
                        "GATEWAY_FILESET_MAX_FILES",
                        i64::try_from(max).unwrap_or(i64::MAX),
                        "delete files of the set, or replace one by uploading under its name",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A LOCAL table's uploaded files, by name, paged (`?page=&amt=`).
    pub async fn list_files(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<UploadedFiles, Problem> {
        let storage = self.local_table_storage(org, kind, name).await?;
        let files = storage.files(org, name).await.map_err(|e| crate::connector_problem(&e))?;
        let (count, bytes) = (files.len() as u64, files.iter().map(|f| f.size).fold(0, u64::saturating_add));
        let skip = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
        let amt = paging.amt() as usize;
        let has_next = files.len() > skip.saturating_add(amt);
        let files = files.into_iter().skip(skip).take(amt).collect();
        Ok(UploadedFiles { count, bytes, has_next, next_page: paging.page() + 1, files })
    }

    /// Deletes one file of a LOCAL table's set (`file`), or every file it holds (none); then
    /// records what the table now is: previewed again, or `uploading` when it holds nothing.
    /// An unknown file is RESOURCE_NOT_FOUND naming it.
    pub async fn delete_files(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        file: Option<&str>,
        actor: &gateway_domain::Actor,
    ) -> Result<(), Problem> {
        let file = file.map(SetFile::parse).transpose()?;
        let storage = self.local_table_storage(org, kind, name).await?;
        let failed = |e: gateway_connector::ConnectorError| crate::connector_problem(&e);
        match &file {
            Some(f) => {
                if !storage.delete_file(org, name, f).await.map_err(failed)? {
                    return Err(Problem::new(
                        ErrorName::ResourceNotFound,
                        format!("LOCAL table '{name}' holds no file '{f}'"),
                    )
                    .with("file", f.as_str()));
                }
            }
            None => storage.remove(org, name).await.map_err(failed)?,
        }
        tracing::info!(table = %name, file = file.as_ref().map(SetFile::as_str), "LOCAL file(s) deleted");
        let table =
            self.load_table(org, kind, name).await?.ok_or_else(|| crate::tables::table_not_found(kind, name))?;
        if storage.holding(org, name).await.map_err(failed)? == Holding::Nothing {
            let (o, n, a) = (org.clone(), name.clone(), actor.clone());
            let verdict = gateway_store::Verdict::from(TableStatus::Uploading);
            self.db(move |s| s.set_table_status(&o, kind, &n, Some(&table), verdict, &a)).await?;
            return Ok(());
        }
        // What remains is previewed and its verdict recorded, pass or fail: the delete itself
        // succeeded. (Past the organization's limits the schedule's next test records it.)
        if let Ok(_admitted) = self.inner.limits.admit(org, self.settings().connector_timeout).await {
            let _ = self.preview_and_record(None, table, Vec::new(), actor).await;
        }
        Ok(())
    }

    /// The LOCAL storage of a stored LOCAL table; WRONG_DATA_TYPE for another kind.
    async fn local_table_storage(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<std::sync::Arc<dyn Uploads>, Problem> {
        if kind != ConnectionKind::Local {
            return Err(Problem::wrong_field(
                "connection",
                format!("only LOCAL tables hold uploaded files; {kind} tables are read where they are"),
            ));
        }
        self.load_table(org, kind, name).await?.ok_or_else(|| crate::tables::table_not_found(kind, name))?;
        self.registry().uploads().cloned().ok_or_else(|| {
            Problem::new(ErrorName::ConnectorUnavailable, "this gateway has no LOCAL storage to upload to")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_signed_and_expire() {
        let key = UploadKey::derive(b"0123456789abcdef0123456789abcdef");
        let org = OrganizationId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let name = TableName::parse("users.csv").unwrap_or_else(|e| panic!("{e}"));
        let t = issue(&key, &org, &name, 60).unwrap_or_default();
        assert_eq!(verify(&key, &t), Ok((org.clone(), name.clone())));
        let other = UploadKey::derive(b"another-secret-another-secret-xx");
        assert!(verify(&other, &t).is_err());
        let expired = issue(&key, &org, &name, -1).unwrap_or_default();
        assert!(verify(&key, &expired).is_err_and(|p| p.message.contains("expired")));
        // A bearer token signed with the secret itself is not an upload token.
        let bearer = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"org": "acme", "table": "users.csv", "purpose": "upload", "exp": now_seconds() + 60}),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap_or_default();
        assert!(verify(&key, &bearer).is_err());
        let url = format!("http://h/uploads/{}", issue(&key, &org, &name, UPLOAD_TTL_SECONDS).unwrap_or_default());
        assert!(still_valid(&key, &url, &org, &name));
        assert!(!still_valid(&key, &url, &org, &TableName::parse("other").unwrap_or_else(|e| panic!("{e}"))));
        assert!(!still_valid(&key, &format!("http://h/uploads/{t}"), &org, &name), "too close to its end");
        assert_ne!(UploadKey::random().0, UploadKey::random().0);
    }
}
