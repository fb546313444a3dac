//! Webhook endpoints (their signing secret sealed like credentials) and the outbox of their
//! deliveries: an event's rows are written in the transaction of the change it reports, so a
//! crash can delay a delivery but never lose it; gateways claim due rows with a lease.

use diesel::prelude::*;
use gateway_domain::{Actor, Event, EventName, OrganizationId, Webhook, WebhookId, WebhookPut, now_seconds, random_id};

use crate::StoreError;
use crate::db::{DbConnection, Store, write_transaction};
use crate::journal::{self, Change, Rules};
use crate::schema::{webhook_deliveries as d, webhooks as w};
use crate::seal::Keyring;

type WebhookRow = (String, String, String, String, i64, i64);

fn aad(org: &str, id: &str) -> String {
    format!("webhook\n{org}\n{id}")
}

fn webhook_record(
    id: String,
    url: String,
    events: String,
    description: String,
    created: i64,
    modified: i64,
) -> Result<Webhook, StoreError> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("webhook {id}: {what}: {e}"));
    let names: Vec<String> = serde_json::from_str(&events).map_err(|e| corrupt("events", e.to_string()))?;
    Ok(Webhook {
        id: WebhookId::parse(&id).map_err(|p| corrupt("id", p.message))?,
        url,
        // An event this version does not know is dropped, not fatal.
        events: names.iter().filter_map(|n| n.parse::<EventName>().ok()).collect(),
        description,
        created_timestamp: created,
        modified_timestamp: modified,
    })
}

fn columns() -> (w::id, w::url, w::events, w::description, w::created_at, w::modified_at) {
    (w::id, w::url, w::events, w::description, w::created_at, w::modified_at)
}

pub fn list(conn: &mut DbConnection, org: &OrganizationId) -> Result<Vec<Webhook>, StoreError> {
    let rows: Vec<WebhookRow> =
        w::table.filter(w::organization.eq(org.as_str())).order(w::id.asc()).select(columns()).load(conn)?;
    rows.into_iter().map(|(a, b, c, d, e, f)| webhook_record(a, b, c, d, e, f)).collect()
}

pub fn get(conn: &mut DbConnection, org: &OrganizationId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
    let row: Option<WebhookRow> = w::table
        .filter(w::organization.eq(org.as_str()))
        .filter(w::id.eq(id.as_str()))
        .select(columns())
        .first(conn)
        .optional()?;
    row.map(|(a, b, c, d, e, f)| webhook_record(a, b, c, d, e, f)).transpose()
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> Result<String, StoreError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| StoreError::Sealing("no randomness for a webhook secret".into()))?;
    Ok(format!("whsec_{}", b.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Creates or replaces an endpoint; answers it and, when it was created or its secret
/// rotated, the new secret (the only time it leaves the store but to sign).
pub fn put(
    conn: &mut DbConnection,
    keys: &Keyring,
    rules: Rules<'_>,
    org: &OrganizationId,
    id: &WebhookId,
    put: &WebhookPut,
    actor: &Actor,
) -> Result<(Webhook, Option<String>), StoreError> {
    // Two creations of one id at once: the second retries as a replacement.
    match put_once(conn, keys, rules, org, id, put, actor) {
        Err(e) if e.is_unique_violation() => put_once(conn, keys, rules, org, id, put, actor),
        other => other,
    }
}

fn put_once(
    conn: &mut DbConnection,
    keys: &Keyring,
    rules: Rules<'_>,
    org: &OrganizationId,
    id: &WebhookId,
    put: &WebhookPut,
    actor: &Actor,
) -> Result<(Webhook, Option<String>), StoreError> {
    let quotas = rules.quotas;
    write_transaction(conn, |conn| {
        // On PostgreSQL the row is locked first, so two PUTs of one endpoint run one after the
        // other (SQLite's BEGIN IMMEDIATE already serialises them).
        if let DbConnection::Postgresql(pg) = conn {
            w::table
                .filter(w::organization.eq(org.as_str()))
                .filter(w::id.eq(id.as_str()))
                .select(w::id)
                .for_update()
                .load::<String>(pg)?;
        }
        let stored = get(conn, org, id)?;
        if stored.is_none() {
            let count: i64 = w::table.filter(w::organization.eq(org.as_str())).count().get_result(conn)?;
            if count >= quotas.webhooks {
                return Err(StoreError::Rejected(gateway_domain::Problem::quota(
                    "webhooks",
                    "GATEWAY_ORG_MAX_WEBHOOKS",
                    quotas.webhooks,
                    "delete one first",
                )));
            }
        }
        let now = now_seconds();
        let events = serde_json::to_string(&put.events.iter().map(|e| e.as_str()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let secret = if stored.is_none() || put.rotate_secret { Some(new_secret()?) } else { None };
        match &stored {
            None => {
                let secret = secret.as_deref().unwrap_or_default();
                let (key_id, sealed) = keys.seal(secret.as_bytes(), &aad(org.as_str(), id.as_str()))?;
                diesel::insert_into(w::table)
                    .values((
                        w::organization.eq(org.as_str()),
                        w::id.eq(id.as_str()),
                        w::url.eq(&put.url),
                        w::events.eq(&events),
                        w::description.eq(&put.description),
                        w::secret.eq(sealed),
                        w::secret_key_id.eq(key_id),
                        w::created_at.eq(now),
                        w::modified_at.eq(now),
                    ))
                    .execute(conn)?;
                let fields = ["url", "events", "description", "secret"].map(String::from).to_vec();
                journal::record(conn, rules, org, actor, &Change::WebhookPut { id, fields })?;
            }
            Some(s) => {
                let row = w::table.filter(w::organization.eq(org.as_str())).filter(w::id.eq(id.as_str()));
                let mut fields = Vec::new();
                if s.url != put.url {
                    fields.push("url".to_owned());
                }
                if s.events != put.events {
                    fields.push("events".to_owned());
                }
                if s.description != put.description {
                    fields.push("description".to_owned());
                }
                if !fields.is_empty() || secret.is_some() {
                    diesel::update(row)
                        .set((
                            w::url.eq(&put.url),
                            w::events.eq(&events),
                            w::description.eq(&put.description),
                            w::modified_at.eq(now.max(s.modified_timestamp)),
                        ))
                        .execute(conn)?;
                }
                if let Some(secret) = &secret {
                    let (key_id, sealed) = keys.seal(secret.as_bytes(), &aad(org.as_str(), id.as_str()))?;
                    diesel::update(row).set((w::secret.eq(sealed), w::secret_key_id.eq(key_id))).execute(conn)?;
                    journal::record(conn, rules, org, actor, &Change::WebhookSecretRotated { id })?;
                }
                if !fields.is_empty() {
                    journal::record(conn, rules, org, actor, &Change::WebhookPut { id, fields })?;
                }
            }
        }
        let webhook =
            get(conn, org, id)?.ok_or_else(|| StoreError::Corrupt("a webhook written is not there".into()))?;
        Ok((webhook, secret))
    })
}

/// Deletes an endpoint and its pending deliveries; false when there was none.
pub fn delete(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    id: &WebhookId,
    actor: &Actor,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(w::table.filter(w::organization.eq(org.as_str())).filter(w::id.eq(id.as_str())))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::delete(
            d::table
                .filter(d::organization.eq(org.as_str()))
                .filter(d::webhook_id.eq(id.as_str()))
                .filter(d::delivered_at.is_null()),
        )
        .execute(conn)?;
        journal::record(conn, rules, org, actor, &Change::WebhookDeleted { id })?;
        Ok(true)
    })
}

/// An endpoint with its secret in clear, to sign a delivery.
pub fn with_secret(
    conn: &mut DbConnection,
    keys: &Keyring,
    org: &OrganizationId,
    id: &WebhookId,
) -> Result<Option<(Webhook, String)>, StoreError> {
    let Some(webhook) = get(conn, org, id)? else { return Ok(None) };
    let (sealed, key_id): (String, String) = w::table
        .filter(w::organization.eq(org.as_str()))
        .filter(w::id.eq(id.as_str()))
        .select((w::secret, w::secret_key_id))
        .first(conn)?;
    let plain = keys.open(&key_id, &sealed, &aad(org.as_str(), id.as_str()))?;
    let secret = String::from_utf8(plain).map_err(|_| StoreError::Corrupt(format!("webhook {id}: secret")))?;
    Ok(Some((webhook, secret)))
}

/// What an event is about, for coalescing: `S3/items.csv` (a table), `S3` (a connection),
/// '' (a ping, never coalesced).
fn subject(event: &Event) -> String {
    match (&event.connection, &event.table) {
        (Some(c), Some(t)) => format!("{c}/{t}"),
        (Some(c), None) => c.as_str().to_owned(),
        _ => String::new(),
    }
}

/// Writes one delivery of `event` per endpoint of `org` that wants it. Called inside the
/// transaction of the change the event reports.
///
/// Events pile up where an endpoint is down or slow: a status change of a table (or a
/// connection) whose previous change to an endpoint was never tried yet is coalesced with it
/// (one event, from the first old status to the new one; none when they are equal), so
/// one flapping table costs each endpoint one waiting row. Past the organization's quota of
/// waiting deliveries, a new event is not queued (logged). An endpoint whose breaker is open
/// gets the event when it may be tried again.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    quotas: &crate::Quotas,
    org: &OrganizationId,
    event: &Event,
) -> Result<usize, StoreError> {
    let hooks: Vec<Webhook> = list(conn, org)?.into_iter().filter(|h| h.wants(event.event)).collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let subject = subject(event);
    let waiting = |conn: &mut DbConnection| -> Result<i64, StoreError> {
        Ok(d::table
            .filter(d::organization.eq(org.as_str()))
            .filter(d::delivered_at.is_null())
            .filter(d::failed_at.is_null())
            .count()
            .get_result(conn)?)
    };
    let mut pending: Option<i64> = None;
    let mut n = 0;
    for hook in &hooks {
        // Status changes coalesce; every finished validation is told.
        let status_change = matches!(event.event, EventName::TableStatusChanged | EventName::ConnectionStatusChanged);
        if status_change && !subject.is_empty() && coalesce(conn, org, hook, &subject, event)? {
            continue;
        }
        let count = match pending {
            Some(c) => c,
            None => waiting(conn)?,
        };
        if count >= quotas.pending_deliveries {
            tracing::warn!(
                organization = %org,
                webhook = %hook.id,
                event = event.event.as_str(),
                quota = quotas.pending_deliveries,
                "an event was not queued for delivery: the organization has as many waiting as GATEWAY_ORG_MAX_PENDING_DELIVERIES allows"
            );
            pending = Some(count);
            continue;
        }
        let payload = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
        let open_until: Option<i64> = w::table
            .filter(w::organization.eq(org.as_str()))
            .filter(w::id.eq(hook.id.as_str()))
            .select(w::open_until)
            .first(conn)?;
        n += diesel::insert_into(d::table)
            .values((
                d::event_id.eq(&event.id),
                d::organization.eq(org.as_str()),
                d::webhook_id.eq(hook.id.as_str()),
                d::event.eq(event.event.as_str()),
                d::payload.eq(&payload),
                d::created_at.eq(event.at),
                d::next_attempt_at.eq(event.at.max(open_until.unwrap_or(0))),
                d::attempts.eq(0),
                d::subject.eq(&subject),
            ))
            .execute(conn)?;
        pending = Some(count + 1);
    }
    Ok(n)
}

/// Folds `event` into a delivery of the same kind and subject to `hook` that was never tried
/// (nor is being tried): answers whether it did.
fn coalesce(
    conn: &mut DbConnection,
    org: &OrganizationId,
    hook: &Webhook,
    subject: &str,
    event: &Event,
) -> Result<bool, StoreError> {
    let now = now_seconds();
    let waiting: Option<(String, String)> = d::table
        .filter(d::organization.eq(org.as_str()))
        .filter(d::webhook_id.eq(hook.id.as_str()))
        .filter(d::subject.eq(subject))
        .filter(d::event.eq(event.event.as_str()))
        .filter(d::delivered_at.is_null())
        .filter(d::failed_at.is_null())
        .filter(d::attempts.eq(0))
        .filter(d::lease_until.is_null().or(d::lease_until.lt(now)))
        .order(d::created_at.desc())
        .select((d::event_id, d::payload))
        .first(conn)
        .optional()?;
    let Some((old_id, old_payload)) = waiting else { return Ok(false) };
    let Ok(first) = serde_json::from_str::<Event>(&old_payload) else { return Ok(false) };
    let row = d::table
        .filter(d::organization.eq(org.as_str()))
        .filter(d::event_id.eq(&old_id))
        .filter(d::webhook_id.eq(hook.id.as_str()));
    if first.old_status == event.new_status {
        // Back where the endpoint last heard it was: nothing to tell.
        diesel::delete(row).execute(conn)?;
        return Ok(true);
    }
    let merged = Event { old_status: first.old_status, ..event.clone() };
    let payload = serde_json::to_string(&merged).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
    diesel::update(row).set((d::event_id.eq(&merged.id), d::payload.eq(payload))).execute(conn)?;
    Ok(true)
}

/// A status change as an event (a new id); `new` is `None` when a status was forgotten (new
/// credentials, not tested yet).
pub(crate) fn status_event(
    event: EventName,
    connection: gateway_domain::ConnectionKind,
    table: Option<&gateway_domain::TableName>,
    old: Option<&str>,
    new: Option<&str>,
) -> Event {
    Event {
        id: random_id(),
        event,
        connection: Some(connection),
        table: table.cloned(),
        old_status: old.map(str::to_owned),
        new_status: new.map(str::to_owned),
        validation: None,
        rows: None,
        invalid_rows: None,
        schema: None,
        at: now_seconds(),
    }
}

/// A claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub organization: OrganizationId,
    pub webhook_id: WebhookId,
    /// The event's JSON, as it is sent.
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// The outbox's queue.
const QUEUE: crate::queue::Queue = crate::queue::Queue {
    table: "webhook_deliveries",
    key: &["organization", "event_id", "webhook_id"],
    due: "next_attempt_at",
    pending: "delivered_at IS NULL AND failed_at IS NULL",
    returning: "event_id, organization, webhook_id, payload, attempts",
};

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    event_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    organization: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    webhook_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    payload: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

/// Claims up to `limit` deliveries due now for `owner` until `now + lease_secs`, fairly
/// across organizations (see `queue`): at most `per_org` of one organization's in flight.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: i64,
    lease_secs: i64,
    limit: i64,
    per_org: i64,
) -> Result<Vec<Delivery>, StoreError> {
    // Nothing due (the usual case): answered by a read, without taking SQLite's write lock.
    let due: i64 = d::table
        .filter(d::delivered_at.is_null())
        .filter(d::failed_at.is_null())
        .filter(d::next_attempt_at.le(now))
        .filter(d::lease_until.is_null().or(d::lease_until.lt(now)))
        .count()
        .get_result(conn)?;
    if due == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<Claimed> =
        write_transaction(conn, |conn| QUEUE.claim(conn, now, per_org, limit, owner, now + lease_secs))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let organization = OrganizationId::parse(&r.organization).ok()?;
            let webhook_id = WebhookId::parse(&r.webhook_id).ok()?;
            Some(Delivery { event_id: r.event_id, organization, webhook_id, payload: r.payload, attempts: r.attempts })
        })
        .collect())
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered,
    /// Try again at this time; the error says why (for operators; no secret in it).
    Retry { at: i64, error: String },
    /// Given up (too many attempts, or the endpoint is gone).
    GiveUp { error: String },
}

/// Failed deliveries in a row after which an endpoint's breaker opens: its deliveries wait
/// (a minute, doubling with each further failure, at most an hour) instead of each being
/// tried and timing out on its own.
pub const BREAKER_THRESHOLD: i32 = 5;

/// How long an endpoint with `failures` failed deliveries in a row is left alone.
pub fn breaker_pause(failures: i32) -> i64 {
    let over = (failures - BREAKER_THRESHOLD).clamp(0, 10);
    (60i64 << over).min(3600)
}

/// Records an attempt by `owner`, and the endpoint's health: a success closes its breaker; a
/// failure counts, and from [`BREAKER_THRESHOLD`] in a row holds every waiting delivery of
/// the endpoint until the pause ends.
pub fn record(conn: &mut DbConnection, owner: &str, delivery: &Delivery, attempt: &Attempt) -> Result<(), StoreError> {
    write_transaction(conn, |conn| record_in(conn, owner, delivery, attempt))
}

fn record_in(conn: &mut DbConnection, owner: &str, delivery: &Delivery, attempt: &Attempt) -> Result<(), StoreError> {
    let org = delivery.organization.as_str();
    let row = d::table
        .filter(d::organization.eq(org))
        .filter(d::event_id.eq(&delivery.event_id))
        .filter(d::webhook_id.eq(delivery.webhook_id.as_str()))
        .filter(d::lease_owner.eq(owner));
    let now = now_seconds();
    let attempts = delivery.attempts + 1;
    let free = (d::lease_owner.eq(None::<String>), d::lease_until.eq(None::<i64>), d::attempts.eq(attempts));
    let written = match attempt {
        Attempt::Delivered => diesel::update(row).set((free, d::delivered_at.eq(Some(now)))).execute(conn)?,
        Attempt::Retry { at, error } => {
            diesel::update(row).set((free, d::next_attempt_at.eq(at), d::last_error.eq(Some(error)))).execute(conn)?
        }
        Attempt::GiveUp { error } => {
            diesel::update(row).set((free, d::failed_at.eq(Some(now)), d::last_error.eq(Some(error)))).execute(conn)?
        }
    };
    if written == 0 {
        return Ok(()); // the lease was lost meanwhile: its new holder records
    }
    let hook = w::table.filter(w::organization.eq(org)).filter(w::id.eq(delivery.webhook_id.as_str()));
    if *attempt == Attempt::Delivered {
        diesel::update(hook).set((w::failures.eq(0), w::open_until.eq(None::<i64>))).execute(conn)?;
        return Ok(());
    }
    let failures: Option<i32> = hook.select(w::failures).first(conn).optional()?;
    let Some(failures) = failures.map(|f| f.saturating_add(1)) else { return Ok(()) };
    let open_until = (failures >= BREAKER_THRESHOLD).then(|| now + breaker_pause(failures));
    diesel::update(hook).set((w::failures.eq(failures), w::open_until.eq(open_until))).execute(conn)?;
    if let Some(until) = open_until {
        diesel::update(
            d::table
                .filter(d::organization.eq(org))
                .filter(d::webhook_id.eq(delivery.webhook_id.as_str()))
                .filter(d::delivered_at.is_null())
                .filter(d::failed_at.is_null())
                .filter(d::lease_until.is_null().or(d::lease_until.lt(now)))
                .filter(d::next_attempt_at.lt(until)),
        )
        .set(d::next_attempt_at.eq(until))
        .execute(conn)?;
    }
    Ok(())
}

/// Deliveries not yet delivered nor given up.
pub fn pending_count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(d::table.filter(d::delivered_at.is_null()).filter(d::failed_at.is_null()).count().get_result(conn)?)
}

/// Forgets deliveries finished (delivered or given up) before `before`.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(d::table.filter(d::delivered_at.lt(before).or(d::failed_at.lt(before)))).execute(conn)?)
}

/// Re-seals up to `batch` webhook secrets sealed under another key than the current one.
pub(crate) fn reseal_batch(conn: &mut DbConnection, keys: &Keyring, batch: i64) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let rows: Vec<(String, String, String, String)> = w::table
            .filter(w::secret_key_id.ne(keys.current_id()))
            .order((w::organization.asc(), w::id.asc()))
            .limit(batch)
            .select((w::organization, w::id, w::secret, w::secret_key_id))
            .load(conn)?;
        let mut done = 0;
        for (org, id, sealed, key_id) in rows {
            let plain = keys.open(&key_id, &sealed, &aad(&org, &id))?;
            let (new_id, resealed) = keys.seal(&plain, &aad(&org, &id))?;
            done += diesel::update(
                w::table
                    .filter(w::organization.eq(&org))
                    .filter(w::id.eq(&id))
                    .filter(w::secret_key_id.eq(&key_id))
                    .filter(w::secret.eq(&sealed)),
            )
            .set((w::secret.eq(resealed), w::secret_key_id.eq(new_id)))
            .execute(conn)?;
        }
        Ok(done)
    })
}

/// Key ids that seal some webhook secret.
pub(crate) fn key_ids(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(w::table.select(w::secret_key_id).distinct().load(conn)?)
}

impl Store {
    pub fn list_webhooks(&self, org: &OrganizationId) -> Result<Vec<Webhook>, StoreError> {
        self.with(|c| list(c, org))
    }

    pub fn get_webhook(&self, org: &OrganizationId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.with(|c| get(c, org, id))
    }

    pub fn put_webhook(
        &self,
        org: &OrganizationId,
        id: &WebhookId,
        body: &WebhookPut,
        actor: &Actor,
    ) -> Result<(Webhook, Option<String>), StoreError> {
        self.with(|c| put(c, &self.keys, self.rules(), org, id, body, actor))
    }

    pub fn delete_webhook(&self, org: &OrganizationId, id: &WebhookId, actor: &Actor) -> Result<bool, StoreError> {
        self.with(|c| delete(c, self.rules(), org, id, actor))
    }

    pub fn webhook_with_secret(
        &self,
        org: &OrganizationId,
        id: &WebhookId,
    ) -> Result<Option<(Webhook, String)>, StoreError> {
        self.with(|c| with_secret(c, &self.keys, org, id))
    }

    pub fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
        per_org: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.with(|c| claim(c, owner, now, lease_secs, limit, per_org))
    }

    pub fn record_delivery(&self, owner: &str, delivery: &Delivery, attempt: &Attempt) -> Result<(), StoreError> {
        self.with(|c| record(c, owner, delivery, attempt))
    }

    /// One organization's deliveries not yet delivered nor given up.
    pub fn pending_deliveries_of(&self, org: &OrganizationId) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(d::table
                .filter(d::organization.eq(org.as_str()))
                .filter(d::delivered_at.is_null())
                .filter(d::failed_at.is_null())
                .count()
                .get_result(c)?)
        })
    }

    /// An endpoint's failed deliveries in a row, and until when its breaker holds it.
    pub fn webhook_health(&self, org: &OrganizationId, id: &WebhookId) -> Result<(i32, Option<i64>), StoreError> {
        self.with(|c| {
            Ok(w::table
                .filter(w::organization.eq(org.as_str()))
                .filter(w::id.eq(id.as_str()))
                .select((w::failures, w::open_until))
                .first(c)?)
        })
    }

    pub fn pending_deliveries(&self) -> Result<i64, StoreError> {
        self.with(pending_count)
    }

    pub fn prune_deliveries(&self, before: i64) -> Result<usize, StoreError> {
        self.with(|c| prune(c, before))
    }
}
