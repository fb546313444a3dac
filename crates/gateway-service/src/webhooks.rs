//! Webhooks: endpoints an organization registers, the signed POST each status change sends
//! them (from the durable outbox, see `gateway_store::webhooks`; the POST itself and its
//! signature are `gateway_connector::webhook`'s), and the audit trail's page.
//!
//! A 2xx answer delivers an event; anything else (or no answer within the timeout) is retried
//! with exponential backoff, up to [`MAX_ATTEMPTS`] attempts.

use gateway_connector::webhook;
use gateway_domain::{
    Actor, AuditPage, ErrorName, Event, EventName, OrganizationId, Paging, Problem, Webhook, WebhookId, WebhookPut,
    WebhookView, now_seconds, random_id,
};
use gateway_store::{Attempt, Delivery};
use serde_json::Value;

use crate::Gateway;

/// Attempts before a delivery is given up (about 32 hours of backoff).
pub const MAX_ATTEMPTS: i32 = 15;

/// Seconds to wait after `attempts` failed attempts: 30 s doubling, at most 6 h.
pub fn backoff_secs(attempts: i32) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (30i64 << exp.min(10)).min(6 * 3600)
}

pub(crate) fn webhook_not_found(id: &WebhookId) -> Problem {
    Problem::new(ErrorName::WebhookNotFound, format!("no webhook '{id}' in this organization")).with("id", id.as_str())
}

/// What one POST to an endpoint came to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// The event sent.
    pub event_id: String,
    /// The endpoint answered 2xx.
    pub delivered: bool,
    /// Its HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What happened, for a person.
    pub message: String,
    /// The outbound guard refused the target: retrying cannot help.
    #[serde(skip)]
    pub refused: bool,
}

impl Gateway {
    /// The organization's webhook endpoints.
    pub async fn list_webhooks(&self, org: &OrganizationId) -> Result<Vec<Webhook>, Problem> {
        let o = org.clone();
        self.db(move |s| s.list_webhooks(&o)).await
    }

    /// One endpoint (never its secret).
    pub async fn get_webhook(&self, org: &OrganizationId, id: &WebhookId) -> Result<Webhook, Problem> {
        let (o, i) = (org.clone(), id.clone());
        self.db(move |s| s.get_webhook(&o, &i)).await?.ok_or_else(|| webhook_not_found(id))
    }

    /// Creates or replaces an endpoint. The answer holds the signing secret when the endpoint
    /// was created or `rotate_secret` was asked: the only time it is shown.
    pub async fn put_webhook(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        id: &WebhookId,
        body: Value,
    ) -> Result<WebhookView, Problem> {
        let put = WebhookPut::from_json(body, id)?;
        // Its host is looked up: counted like a test.
        let _admitted = self.admit(org).await?;
        let warnings = webhook::check_url(&self.inner.webhook_client, &put.url)
            .await
            .map_err(|why| Problem::wrong_field("url", format!("the webhook url {why}")))?;
        let (o, i, a) = (org.clone(), id.clone(), actor.clone());
        let (webhook, secret) = self.db(move |s| s.put_webhook(&o, &i, &put, &a)).await?;
        tracing::info!(webhook = %id, "webhook stored");
        Ok(WebhookView { webhook, secret, warnings })
    }

    /// Deletes an endpoint; its pending deliveries go with it.
    pub async fn delete_webhook(&self, org: &OrganizationId, actor: &Actor, id: &WebhookId) -> Result<(), Problem> {
        let (o, i, a) = (org.clone(), id.clone(), actor.clone());
        if self.db(move |s| s.delete_webhook(&o, &i, &a)).await? { Ok(()) } else { Err(webhook_not_found(id)) }
    }

    /// Sends a `ping` event to the endpoint now (not through the outbox) and reports what it
    /// answered; a failure is WRONG_DATA_TYPE with the status code or the cause in `error_data`.
    pub async fn test_webhook(&self, org: &OrganizationId, id: &WebhookId) -> Result<DeliveryReport, Problem> {
        let _admitted = self.admit(org).await?;
        let (o, i) = (org.clone(), id.clone());
        let (webhook, secret) =
            self.db(move |s| s.webhook_with_secret(&o, &i)).await?.ok_or_else(|| webhook_not_found(id))?;
        let event = Event {
            id: random_id(),
            event: EventName::Ping,
            connection: None,
            table: None,
            old_status: None,
            new_status: None,
            validation: None,
            rows: None,
            invalid_rows: None,
            schema: None,
            at: now_seconds(),
        };
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let report = self.post_event(&webhook, &secret, &event.id, body).await;
        if report.delivered {
            return Ok(report);
        }
        let mut p = Problem::wrong_field("url", format!("the endpoint did not accept the ping: {}", report.message))
            .with("event_id", report.event_id.clone());
        if let Some(code) = report.status_code {
            p = p.with("status_code", code);
        }
        Err(p)
    }

    /// POSTs one signed event to an endpoint through the outbound guard, and counts it.
    async fn post_event(&self, webhook: &Webhook, secret: &str, event_id: &str, body: Vec<u8>) -> DeliveryReport {
        let started = std::time::Instant::now();
        let posted = webhook::post(&self.inner.webhook_client, &webhook.url, event_id, secret, body).await;
        self.metrics().webhook_delivery(posted.delivered, started.elapsed());
        DeliveryReport {
            event_id: event_id.to_owned(),
            delivered: posted.delivered,
            status_code: posted.status_code,
            message: posted.message,
            refused: posted.refused,
        }
    }

    /// Delivers one claimed outbox row and records the attempt.
    pub(crate) async fn deliver(&self, owner: &str, delivery: Delivery) -> Result<bool, Problem> {
        let (o, i) = (delivery.organization.clone(), delivery.webhook_id.clone());
        let found = self.db(move |s| s.webhook_with_secret(&o, &i)).await?;
        let attempt = match found {
            None => Attempt::GiveUp { error: "the endpoint was deleted".into() },
            Some((webhook, secret)) => {
                let report =
                    self.post_event(&webhook, &secret, &delivery.event_id, delivery.payload.clone().into_bytes()).await;
                if report.delivered {
                    Attempt::Delivered
                } else if report.refused || delivery.attempts + 1 >= MAX_ATTEMPTS {
                    tracing::warn!(webhook = %webhook.id, event = %delivery.event_id, "webhook delivery given up");
                    Attempt::GiveUp { error: report.message }
                } else {
                    Attempt::Retry { at: now_seconds() + backoff_secs(delivery.attempts), error: report.message }
                }
            }
        };
        let delivered = attempt == Attempt::Delivered;
        let owner = owner.to_owned();
        self.db(move |s| s.record_delivery(&owner, &delivery, &attempt)).await?;
        Ok(delivered)
    }

    /// One page of the organization's audit trail, newest first.
    pub async fn audit(&self, org: &OrganizationId, paging: Paging) -> Result<AuditPage, Problem> {
        let o = org.clone();
        let (entries, has_next) = self.db(move |s| s.audit_page(&o, paging)).await?;
        Ok(AuditPage { has_next, next_page: paging.page() + 1, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(5), 960);
        assert_eq!(backoff_secs(14), 6 * 3600);
    }
}
