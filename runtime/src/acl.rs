//! Access control at the front doors, with Kalix's semantics: a call is
//! allowed when a principal of the caller matches an `allow` entry of the
//! method's ACL (the method's, else its service's, else its file's: the
//! generator resolves which one applies) and none matches a `deny` entry; a
//! method without an ACL allows everyone; an ACL with no `allow` entry (`acl
//! = {}`) blocks everything. A refused call gets the ACL's `deny_code` (0:
//! `PERMISSION_DENIED`, HTTP 403).
//!
//! Every call through the front doors comes from the internet: service
//! identities are not established yet, so `service` principals never match
//! a front-door call. Calls the runtime makes itself (subscriptions, a
//! component calling another through its context) go through the
//! dispatcher and are not checked here.

use crate::component::info::{MethodInfo, Principal};
use crate::status::{Code, Status};

/// Whether a principal entry matches a caller from the internet.
fn matches_internet(principal: &Principal) -> bool {
    matches!(principal, Principal::All | Principal::Internet)
}

/// Check a call of `method` from the internet; the refusal as a status.
pub(crate) fn check_internet(method: &MethodInfo) -> Result<(), Status> {
    let Some(acl) = method.acl else {
        return Ok(());
    };
    let allowed = acl.allow.iter().any(matches_internet) && !acl.deny.iter().any(matches_internet);
    if allowed {
        return Ok(());
    }
    let code = match i32::try_from(acl.deny_code).unwrap_or(0) {
        0 => Code::PermissionDenied,
        code => match Code::from_i32(code) {
            Code::Ok | Code::Unknown => Code::PermissionDenied,
            code => code,
        },
    };
    Err(Status::new(
        code,
        format!(
            "the access rules of {} do not allow this caller",
            method.path
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::info::{Acl, IdSource};

    fn method(acl: Option<Acl>) -> MethodInfo {
        MethodInfo {
            name: "Add",
            path: "/shop.Cart/Add",
            input_type: "shop.Add",
            output_type: "shop.Cart",
            server_streaming: false,
            id: IdSource::None,
            http: &[],
            subscribe: None,
            view: None,
            publish: None,
            acl,
            jwt: None,
        }
    }

    fn acl(allow: &'static [Principal], deny: &'static [Principal], deny_code: u32) -> Option<Acl> {
        Some(Acl {
            allow,
            deny,
            deny_code,
        })
    }

    #[test]
    fn internet_callers_get_what_the_rules_say() {
        let cases: &[(Option<Acl>, Option<Code>)] = &[
            (None, None),
            (acl(&[Principal::Internet], &[], 0), None),
            (acl(&[Principal::All], &[], 0), None),
            (acl(&[], &[], 0), Some(Code::PermissionDenied)),
            (
                acl(&[Principal::Service("*")], &[], 0),
                Some(Code::PermissionDenied),
            ),
            (
                acl(&[Principal::All], &[Principal::Internet], 0),
                Some(Code::PermissionDenied),
            ),
            (
                acl(&[Principal::Service("billing")], &[], 5),
                Some(Code::NotFound),
            ),
            (acl(&[], &[], 99), Some(Code::PermissionDenied)),
        ];
        for (acl, expected) in cases {
            let outcome = check_internet(&method(*acl))
                .err()
                .map(|status| status.code());
            assert_eq!(outcome, *expected, "{acl:?}");
        }
    }
}
