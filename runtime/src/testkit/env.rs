//! What every unit test kit keeps beside its component: a manual clock, the
//! metadata and caller its calls carry, and the timers its handlers started.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::auth::Claims;
use crate::clock::{Clock, ManualClock};
use crate::context::{Caller, Metadata};
use crate::storage::ScheduleOp;

/// A timer a handler started (see [`crate::schedule::timers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartedTimer {
    /// Its name.
    pub name: String,
    /// The method it calls (`/package.Service/Method`).
    pub path: String,
    /// The encoded request it calls the method with.
    pub payload: Bytes,
    /// The delay it was started with.
    pub delay: Duration,
    /// When it is due, by the kit's clock.
    pub due: SystemTime,
    /// How many failed attempts are retried.
    pub max_retries: u32,
}

impl StartedTimer {
    /// The request the timer calls its method with, decoded.
    ///
    /// # Panics
    /// When the payload is not a `Q`: the test asked for the wrong type.
    pub fn request<Q: prost::Message + Default>(&self) -> Q {
        Q::decode(self.payload.as_ref()).unwrap_or_else(|error| {
            panic!(
                "the request of timer {:?} ({}) is not a {}: {error}",
                self.name,
                self.path,
                std::any::type_name::<Q>()
            )
        })
    }
}

/// A change a handler made to the timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerChange {
    /// A timer was started (replacing one of the same name).
    Started(StartedTimer),
    /// The timer of this name was cancelled.
    Cancelled(String),
}

/// A kit's clock, call metadata and pending timers. Every test kit
/// dereferences to one, so `kit.advance(..)`, `kit.pending_timers()` and
/// `kit.set_metadata(..)` work on each.
#[derive(Debug, Default)]
pub struct KitEnv {
    clock: ManualClock,
    metadata: Metadata,
    timers: BTreeMap<String, StartedTimer>,
}

impl KitEnv {
    /// The kit's clock (a [`ManualClock`]; it moves only by
    /// [`KitEnv::advance`]).
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Move the clock forward by `by`; the timers due by then, earliest
    /// first, leave the pending timers and are returned, for the test to
    /// make their calls.
    pub fn advance(&mut self, by: Duration) -> Vec<StartedTimer> {
        self.clock.advance(by);
        let now = self.clock.now();
        let due: Vec<String> = self
            .timers
            .values()
            .filter(|timer| timer.due <= now)
            .map(|timer| timer.name.clone())
            .collect();
        let mut fired: Vec<StartedTimer> = due
            .iter()
            .filter_map(|name| self.timers.remove(name))
            .collect();
        fired.sort_by_key(|timer| timer.due);
        fired
    }

    /// The timers started and not yet cancelled or fired, by name.
    pub fn pending_timers(&self) -> Vec<&StartedTimer> {
        self.timers.values().collect()
    }

    /// The pending timer `name`, if there is one.
    pub fn timer(&self, name: &str) -> Option<&StartedTimer> {
        self.timers.get(name)
    }

    /// The metadata every call of the kit carries (headers, or CloudEvents
    /// attributes for subscriptions).
    pub fn set_metadata(&mut self, metadata: Metadata) {
        let (caller, claims) = (self.metadata.caller(), self.metadata.claims().cloned());
        self.metadata = metadata;
        self.metadata.set_caller(caller);
        self.metadata.set_claims(claims.map(std::sync::Arc::new));
    }

    /// Who the kit's calls come from (default [`Caller::Internet`]); what a
    /// handler sees as `ctx.caller()`.
    pub fn set_caller(&mut self, caller: Caller) {
        self.metadata.set_caller(caller);
    }

    /// The validated token claims the kit's calls carry (`ctx.jwt_claims()`):
    /// a JSON object, as a token's payload.
    ///
    /// # Panics
    /// When `claims` is not a JSON object.
    pub fn set_jwt_claims(&mut self, claims: serde_json::Value) {
        let serde_json::Value::Object(claims) = claims else {
            panic!("token claims are a JSON object, not {claims}");
        };
        self.metadata
            .set_claims(Some(std::sync::Arc::new(Claims::new(claims))));
    }

    /// The metadata of the next call.
    pub(crate) fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    /// Record a handler's timer changes: what it started is due at the
    /// clock's now plus its delay.
    pub(crate) fn record(&mut self, changes: &[TimerChange]) {
        for change in changes {
            match change {
                TimerChange::Started(timer) => {
                    self.timers.insert(timer.name.clone(), timer.clone());
                }
                TimerChange::Cancelled(name) => {
                    self.timers.remove(name);
                }
            }
        }
    }

    /// A timer started now with `delay`.
    pub(crate) fn started(
        &self,
        name: &str,
        path: &str,
        payload: Bytes,
        delay: Duration,
        max_retries: u32,
    ) -> StartedTimer {
        StartedTimer {
            name: name.to_owned(),
            path: path.to_owned(),
            payload,
            delay,
            due: self.clock.now() + delay,
            max_retries,
        }
    }

    /// The timer changes among an entity handler's schedule changes.
    pub(crate) fn timer_changes(&self, ops: Vec<ScheduleOp>) -> Vec<TimerChange> {
        ops.into_iter()
            .filter_map(|op| match op {
                ScheduleOp::Put(call) => call.name.as_deref().map(|name| {
                    TimerChange::Started(self.started(
                        name,
                        &call.path,
                        call.payload.clone(),
                        call.delay,
                        call.max_retries.unwrap_or(0),
                    ))
                }),
                ScheduleOp::Cancel(name) => Some(TimerChange::Cancelled(name)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_the_clock_fires_due_timers_in_order_and_keeps_the_rest() {
        let mut env = KitEnv::default();
        let later = env.started("later", "/x.S/B", Bytes::new(), Duration::from_secs(60), 1);
        let soon = env.started("soon", "/x.S/A", Bytes::new(), Duration::from_secs(5), 1);
        let gone = env.started("gone", "/x.S/C", Bytes::new(), Duration::from_secs(1), 1);
        env.record(&[
            TimerChange::Started(later),
            TimerChange::Started(soon),
            TimerChange::Started(gone),
            TimerChange::Cancelled("gone".into()),
        ]);
        assert_eq!(env.pending_timers().len(), 2);
        assert!(env.advance(Duration::from_secs(4)).is_empty());
        let fired = env.advance(Duration::from_secs(100));
        let names: Vec<&str> = fired.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["soon", "later"]);
        assert!(env.pending_timers().is_empty());
    }

    #[test]
    fn metadata_keeps_the_caller_and_claims_set_by_the_kit() {
        let mut env = KitEnv::default();
        env.set_caller(Caller::Runtime);
        env.set_jwt_claims(serde_json::json!({"sub": "alice"}));
        env.set_metadata(Metadata::new().with("x-tenant", "t1"));
        let metadata = env.metadata();
        assert_eq!(metadata.caller(), Caller::Runtime);
        assert_eq!(metadata.claims().and_then(|c| c.subject()), Some("alice"));
        assert_eq!(metadata.get("x-tenant"), Some("t1"));
    }
}
