//! Access control at the front doors, with Kalix's semantics: a call is
//! allowed when a principal of the caller matches an `allow` entry of the
//! method's ACL (the method's, else its service's, else its file's: the
//! generator resolves which one applies) and none matches a `deny` entry; a
//! method without an ACL allows everyone; an ACL with no `allow` entry (`acl
//! = {}`) blocks everything. A refused call gets the ACL's `deny_code` (0:
//! `PERMISSION_DENIED`, HTTP 403).
//!
//! A front-door call comes from a named service when its connection
//! presented a client certificate that the configured CA verified (its first
//! DNS name is the service's name); every other call comes from the
//! internet. `ALL` matches both, `INTERNET` only the latter, `service`
//! entries only services, with `*` matching any run of characters. Calls the
//! runtime makes itself (subscriptions, a component calling another through
//! its context) go through the dispatcher and are not checked here.

use crate::component::info::{MethodInfo, Principal};
use crate::status::{Code, Status};

/// Whether a principal entry matches the caller: the service `service`, or
/// the internet when `None`.
fn matches(principal: &Principal, service: Option<&str>) -> bool {
    match (principal, service) {
        (Principal::All, _) => true,
        (Principal::Internet, None) => true,
        (Principal::Service(pattern), Some(name)) => glob(pattern, name),
        _ => false,
    }
}

/// `*`-only wildcard matching, for service-name patterns (a glob crate would
/// bring classes and escapes that service names never need).
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return rest.is_empty();
    };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Check a call of `method` from `service` (or from the internet when
/// `None`); the refusal as a status.
pub(crate) fn check(method: &MethodInfo, service: Option<&str>) -> Result<(), Status> {
    let Some(acl) = method.acl else {
        return Ok(());
    };
    let allowed = acl.allow.iter().any(|p| matches(p, service))
        && !acl.deny.iter().any(|p| matches(p, service));
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
            client_streaming: false,
            id: IdSource::None,
            http: &[],
            subscribe: None,
            view: None,
            publish: None,
            acl,
            jwt: None,
            trigger: None,
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
            let outcome = check(&method(*acl), None).err().map(|status| status.code());
            assert_eq!(outcome, *expected, "{acl:?}");
        }
    }

    #[test]
    fn named_services_get_what_the_rules_say() {
        let cases: &[(Option<Acl>, &str, bool)] = &[
            (None, "billing", true),
            (acl(&[Principal::All], &[], 0), "billing", true),
            (acl(&[Principal::Internet], &[], 0), "billing", false),
            (
                acl(&[Principal::Service("billing")], &[], 0),
                "billing",
                true,
            ),
            (
                acl(&[Principal::Service("billing")], &[], 0),
                "billing-2",
                false,
            ),
            (acl(&[Principal::Service("*")], &[], 0), "anything", true),
            (acl(&[Principal::Service("bill*")], &[], 0), "billing", true),
            (acl(&[Principal::Service("*-eu")], &[], 0), "shop-eu", true),
            (acl(&[Principal::Service("*-eu")], &[], 0), "shop-us", false),
            (acl(&[Principal::Service("a*c*e")], &[], 0), "abcde", true),
            (acl(&[Principal::Service("a*c*e")], &[], 0), "abcd", false),
            (
                acl(&[Principal::All], &[Principal::Service("shop*")], 0),
                "shop",
                false,
            ),
            (
                acl(&[Principal::All], &[Principal::Internet], 0),
                "shop",
                true,
            ),
        ];
        for (acl, service, allowed) in cases {
            let outcome = check(&method(*acl), Some(service)).is_ok();
            assert_eq!(outcome, *allowed, "{acl:?} for {service}");
        }
    }
}
