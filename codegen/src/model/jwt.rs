//! Bearer-token options: a method's validation (its own `jwt` option, else
//! its service's), the input fields filled from claims
//! (`(plinth.field).jwt = { claim: "sub" }`, Kalix's
//! `(kalix.field).jwt = { claim: EXTRACT name: "sub" }`), and the refusal of
//! every token option the runtime does not enforce, so none is accepted and
//! ignored.

use std::collections::HashSet;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};

use super::component::Built;
use super::options::{JwtDecl, extension, flag, int, list, message, string};
use super::span::Loc;
use super::types::{ClaimField, Jwt};
use super::{Ctx, is_infrastructure};
use crate::error::ErrorKind;

/// `JwtFieldOptions.claim = EXTRACT` in Kalix's annotations.
const KALIX_EXTRACT: i64 = 2;

/// Reports what of a `jwt` option, written on `owner` (``rpc `X` `` or
/// ``service `Y` ``), is not enforced. Called once per option, where it is
/// written.
pub(crate) fn check(ctx: &mut Ctx<'_>, decl: &JwtDecl, owner: &str) {
    for option in &decl.unsupported {
        ctx.error(
            ErrorKind::InvalidOption,
            &decl.loc,
            format!("`{option}` is not enforced"),
            format!(
                "{owner} asks for `{option}` in its `jwt` option, which Plinth does not do: the \
                 token would not be signed or checked that way"
            ),
            "remove it; Plinth validates `Authorization: Bearer` tokens \
             (`validate: BEARER_TOKEN`; see docs/annotations.md#kalix-options)",
        );
    }
    let jwt = &decl.jwt;
    if !jwt.validate_bearer_token && (!jwt.issuers.is_empty() || !jwt.static_claims.is_empty()) {
        ctx.error(
            ErrorKind::InvalidOption,
            &decl.loc,
            "issuers or claims without validation",
            format!(
                "{owner} names token issuers or required claims but does not validate bearer \
                 tokens, so they would never be checked"
            ),
            "add `validate_bearer_token: true` (Kalix: `validate: BEARER_TOKEN`)",
        );
    }
    if jwt.static_claims.iter().any(|(claim, _)| claim.is_empty()) {
        ctx.error(
            ErrorKind::InvalidOption,
            &decl.loc,
            "static claim without a name",
            format!("{owner} requires a claim with no name"),
            "write `static_claim: { claim: \"role\" value: \"admin\" }`",
        );
    }
}

/// The validation in force for `method`: its own `jwt` option (checked
/// here), else its service's (checked once by the service), with the
/// input fields filled from claims.
pub(crate) fn method(
    ctx: &mut Ctx<'_>,
    method: &MethodDescriptor,
    own: Option<JwtDecl>,
    service: Option<&JwtDecl>,
    loc: &Loc,
) -> Option<Jwt> {
    let name = method.name();
    if let Some(own) = &own {
        check(ctx, own, &format!("rpc `{name}`"));
    }
    let mut jwt = own.or_else(|| service.cloned()).map(|decl| decl.jwt);
    let fields = claim_fields(ctx, &method.input());
    if fields.is_empty() {
        return jwt;
    }
    match jwt.as_mut().filter(|jwt| jwt.validate_bearer_token) {
        Some(jwt) => jwt.claim_fields = fields,
        None => ctx.error(
            ErrorKind::InvalidOption,
            loc,
            "no token validation",
            format!(
                "rpc `{name}` takes `{}`, whose field `{}` is filled from a token claim, but the \
                 rpc does not validate bearer tokens: there would be no claim to fill it from",
                method.input().full_name(),
                fields[0].field
            ),
            "add `option (plinth.method) = { jwt: { validate_bearer_token: true } };` to the rpc \
             (or `jwt` to its service's component option)",
        ),
    }
    jwt
}

/// The claim of a field's `jwt` option: `Ok(None)` when it has none,
/// `Err` with what is wrong when it is not a supported claim copy.
fn field_claim(ctx: &Ctx<'_>, field: &FieldDescriptor) -> Result<Option<String>, String> {
    let options = field.options();
    if let Some(jwt) =
        extension(&options, ctx.ext.plinth_field.as_ref()).and_then(|m| message(&m, "jwt"))
    {
        let claim = string(&jwt, "claim");
        return if claim.is_empty() {
            Err("the `jwt` option names no claim: write `jwt: { claim: \"sub\" }`".into())
        } else {
            Ok(Some(claim))
        };
    }
    let Some(jwt) =
        extension(&options, ctx.ext.kalix_field.as_ref()).and_then(|m| message(&m, "jwt"))
    else {
        return Ok(None);
    };
    let name = string(&jwt, "name");
    let extras = flag(&jwt, "token")
        || flag(&jwt, "include_parent_claims")
        || !list(&jwt, "include_bearer_token_claim").is_empty()
        || !list(&jwt, "issuer").is_empty()
        || int(&jwt, "expires_seconds") != 0
        || !list(&jwt, "static_claim").is_empty();
    if int(&jwt, "claim") != KALIX_EXTRACT || name.is_empty() || extras {
        return Err(
            "only `jwt: { claim: EXTRACT name: \"...\" }` (copy one claim of the bearer token) \
             is supported on a field (see docs/annotations.md#kalix-options)"
                .into(),
        );
    }
    Ok(Some(name))
}

/// The fields of `input` filled from claims; reports unsupported ones.
fn claim_fields(ctx: &mut Ctx<'_>, input: &MessageDescriptor) -> Vec<ClaimField> {
    let mut fields = Vec::new();
    for field in input.fields() {
        let loc = Loc::new(&field.parent_file(), field.path());
        let claim = match field_claim(ctx, &field) {
            Ok(Some(claim)) => claim,
            Ok(None) => continue,
            Err(problem) => {
                refuse_field(ctx, &loc, &field, &problem);
                continue;
            }
        };
        if field.is_list() || field.is_map() || field.kind() != Kind::String {
            refuse_field(
                ctx,
                &loc,
                &field,
                "claims are copied into singular `string` fields only",
            );
            continue;
        }
        fields.push(ClaimField {
            claim,
            field: field.name().to_owned(),
            number: field.number(),
        });
    }
    fields
}

fn refuse_field(ctx: &mut Ctx<'_>, loc: &Loc, field: &FieldDescriptor, problem: &str) {
    ctx.error(
        ErrorKind::InvalidOption,
        loc,
        "claim not copied",
        format!(
            "field `{}` asks to be filled from a JWT claim in a way Plinth does not support",
            field.full_name()
        ),
        problem.to_owned(),
    );
}

/// Reports token options no method enforces: claims on fields of messages
/// that are not the input of any rpc (such as nested messages), and
/// `(kalix.message).jwt`.
pub(crate) fn stray(ctx: &mut Ctx<'_>, built: &[Built]) {
    let inputs: HashSet<&str> = built
        .iter()
        .flat_map(|b| b.component.methods.iter())
        .map(|m| m.input.full_name.as_str())
        .collect();
    let mut messages = Vec::new();
    for file in ctx.pool.files() {
        if !is_infrastructure(file.name()) {
            let mut pending: Vec<MessageDescriptor> = file.messages().collect();
            while let Some(message) = pending.pop() {
                pending.extend(message.child_messages());
                messages.push(message);
            }
        }
    }
    for message in messages {
        if let Some(ext) = ctx.ext.kalix_message.clone()
            && extension(&message.options(), Some(&ext))
                .is_some_and(|m| super::options::has(&m, "jwt"))
        {
            ctx.error(
                ErrorKind::InvalidOption,
                &Loc::new(&message.parent_file(), message.path()),
                "message token validation is not enforced",
                format!(
                    "message `{}` asks for token validation (`(kalix.message).jwt`), which Plinth \
                     does not do",
                    message.full_name()
                ),
                "validate the bearer token on the rpc instead: \
                 `option (kalix.method).jwt = { validate: BEARER_TOKEN };` (see docs/annotations.md#kalix-options)",
            );
        }
        if inputs.contains(message.full_name()) {
            continue;
        }
        for field in message.fields() {
            if !matches!(field_claim(ctx, &field), Ok(None)) {
                ctx.error(
                    ErrorKind::InvalidOption,
                    &Loc::new(&field.parent_file(), field.path()),
                    "claim never copied",
                    format!(
                        "field `{}` asks to be filled from a JWT claim, but `{}` is not the input \
                         of any rpc, so nothing would fill it",
                        field.full_name(),
                        message.full_name()
                    ),
                    "put the field in the rpc's input message itself (claims fill top-level fields)",
                );
            }
        }
    }
}
