//! What one organization may ask of providers: at most so many provider calls (credential
//! tests, previews) in flight at once, and so many test requests a minute; and what all may
//! together (a global cap, queued). A tenant hammering its tests cannot crowd out the others
//! nor make the gateway a traffic source; it hears 429 with when to retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_domain::{ErrorName, OrganizationId, Problem};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, from the operator.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Provider calls in flight for all organizations together; more wait their turn.
    pub global_calls: usize,
    /// Provider calls in flight for one organization; more are refused with 429.
    pub org_calls: usize,
    /// Credential and table tests one organization may make a minute.
    pub org_tests_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings { global_calls: 64, org_calls: 8, org_tests_per_minute: 60 }
    }
}

#[derive(Debug)]
pub(crate) struct Limits {
    settings: LimitSettings,
    global: Arc<Semaphore>,
    orgs: Mutex<HashMap<OrganizationId, OrgState>>,
}

#[derive(Debug)]
struct OrgState {
    calls: Arc<Semaphore>,
    window: Instant,
    tests: u32,
}

/// Held while a provider call runs.
#[derive(Debug)]
pub(crate) struct Admitted {
    _org: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

fn too_many(message: String, retry_after: u64) -> Problem {
    Problem::new(ErrorName::TooManyRequests, message).with("retry_after", retry_after)
}

impl Limits {
    pub(crate) fn new(settings: LimitSettings) -> Limits {
        Limits { settings, global: Arc::new(Semaphore::new(settings.global_calls.max(1))), orgs: Mutex::default() }
    }

    /// Counts a test request against the organization's minute and admits its provider call,
    /// or refuses it with when to retry. The global cap is waited for at most `wait`.
    pub(crate) async fn admit(&self, org: &OrganizationId, wait: Duration) -> Result<Admitted, Problem> {
        let calls = {
            let mut orgs =
                self.orgs.lock().map_err(|_| Problem::new(ErrorName::InternalError, "the limits are unusable"))?;
            let now = Instant::now();
            let state = orgs.entry(org.clone()).or_insert_with(|| OrgState {
                calls: Arc::new(Semaphore::new(self.settings.org_calls.max(1))),
                window: now,
                tests: 0,
            });
            if now.duration_since(state.window) >= Duration::from_secs(60) {
                state.window = now;
                state.tests = 0;
            }
            if state.tests >= self.settings.org_tests_per_minute.max(1) {
                let left = 60u64.saturating_sub(now.duration_since(state.window).as_secs()).max(1);
                return Err(too_many(
                    format!(
                        "this organization made {} tests this minute, the most it may: retry in {left} s",
                        self.settings.org_tests_per_minute
                    ),
                    left,
                ));
            }
            state.tests += 1;
            state.calls.clone()
        };
        let org_permit = calls.try_acquire_owned().map_err(|_| {
            too_many(
                format!(
                    "this organization has {} provider calls in flight, the most it may: retry when one ends",
                    self.settings.org_calls
                ),
                1,
            )
        })?;
        let global = tokio::time::timeout(wait, self.global.clone().acquire_owned()).await;
        match global {
            Ok(Ok(permit)) => Ok(Admitted { _org: org_permit, _global: permit }),
            _ => Err(too_many("the gateway is at its limit of provider calls: retry shortly".into(), 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn organizations_are_held_to_their_share() {
        let limits = Limits::new(LimitSettings { global_calls: 2, org_calls: 1, org_tests_per_minute: 3 });
        let (acme, globex) = (OrganizationId::parse("acme").unwrap(), OrganizationId::parse("globex").unwrap());
        let held = limits.admit(&acme, Duration::from_millis(50)).await.unwrap();
        let refused = limits.admit(&acme, Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(refused.name, ErrorName::TooManyRequests, "one call in flight per organization");
        let other = limits.admit(&globex, Duration::from_millis(50)).await.unwrap();
        drop((held, other));
        // Three tests a minute: the second above was counted, the fourth is refused.
        limits.admit(&acme, Duration::from_millis(50)).await.unwrap();
        let refused = limits.admit(&acme, Duration::from_millis(50)).await.unwrap_err();
        assert!(refused.message.contains("this minute"), "{}", refused.message);
        assert!(refused.data["retry_after"].as_u64().is_some_and(|s| (1..=60).contains(&s)));
    }
}
