//! Where a command of a stateful component finds its entity id: `id` fields
//! of its input (directly, or inside one message-typed id field), or a
//! generated UUID.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};

use super::Ctx;
use super::options::{MethodDecl, extension, flag};
use super::span::Loc;
use super::types::{IdField, IdKind, IdSpec};
use crate::error::ErrorKind;

/// Whether `field` is marked as (part of) the entity id.
fn is_id(ctx: &Ctx<'_>, field: &FieldDescriptor) -> bool {
    let options = field.options();
    let plinth = extension(&options, ctx.ext.plinth_field.as_ref()).is_some_and(|m| flag(&m, "id"));
    let kalix = extension(&options, ctx.ext.kalix_field.as_ref())
        .is_some_and(|m| flag(&m, "id") || flag(&m, "entity_key") || flag(&m, "workflow_key"));
    plinth || kalix
}

fn field_loc(field: &FieldDescriptor) -> Loc {
    Loc::new(&field.parent_file(), field.path())
}

fn id_kind(ctx: &mut Ctx<'_>, field: &FieldDescriptor) -> Option<IdKind> {
    let kind = match field.kind() {
        Kind::String => Some(IdKind::String),
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64 => Some(IdKind::Integer),
        _ => None,
    };
    match kind {
        Some(kind) if !field.is_list() && !field.is_map() => Some(kind),
        _ => {
            let ty = if field.is_list() {
                "a repeated field".to_owned()
            } else {
                format!("of type {:?}", field.kind())
            };
            ctx.error(
                ErrorKind::InvalidIdField,
                &field_loc(field),
                "unsupported id type",
                format!("id field `{}` is {ty}", field.full_name()),
                "an id field must be a single `string` or integer field",
            );
            None
        }
    }
}

fn id_fields(ctx: &mut Ctx<'_>, message: &MessageDescriptor) -> Vec<FieldDescriptor> {
    message.fields().filter(|f| is_id(ctx, f)).collect()
}

pub(crate) fn id_spec(
    ctx: &mut Ctx<'_>,
    method: &MethodDescriptor,
    m: &MethodDecl,
    loc: &Loc,
) -> IdSpec {
    let input = method.input();
    let marked = id_fields(ctx, &input);
    if let Some(generator) = &m.id_generator {
        if let Some(first) = marked.first() {
            ctx.error(
                ErrorKind::IdAndGenerator,
                &generator.clone().at("id_generator"),
                "id generated here",
                format!(
                    "rpc `{}` generates its id but its input `{}` also marks `{}` as the id",
                    method.name(),
                    input.full_name(),
                    first.name()
                ),
                "remove the id marking from the input's fields, or remove the id generator",
            );
        }
        return IdSpec::GeneratedUuid;
    }
    let mut fields = Vec::new();
    match marked.as_slice() {
        [] => {
            ctx.error(
                ErrorKind::MissingId,
                &loc.clone().at(method.name()),
                "no entity id",
                format!(
                    "rpc `{}` of a stateful component has no id: its input `{}` marks no id field and it declares no id generator",
                    method.name(),
                    input.full_name()
                ),
                "mark the id field with `[(plinth.field).id = true]`, or generate the id with \
                 `option (plinth.method) = { id_generator: UUID };` (see docs/annotations.md#entity-ids)",
            );
        }
        [single] if matches!(single.kind(), Kind::Message(_)) && !single.is_list() => {
            let Kind::Message(inner) = single.kind() else {
                return IdSpec::None;
            };
            let nested = id_fields(ctx, &inner);
            if nested.is_empty() {
                ctx.error(
                    ErrorKind::MissingId,
                    &field_loc(single),
                    "carries no id field",
                    format!(
                        "id field `{}` is a message, but `{}` marks no id field",
                        single.name(),
                        inner.full_name()
                    ),
                    format!(
                        "mark the id field(s) of `{}` with `[(plinth.field).id = true]`",
                        inner.full_name()
                    ),
                );
            }
            for field in nested {
                if let Some(kind) = id_kind(ctx, &field) {
                    fields.push(IdField {
                        path: vec![single.name().to_owned(), field.name().to_owned()],
                        kind,
                    });
                }
            }
        }
        several => {
            for field in several {
                if let Some(kind) = id_kind(ctx, field) {
                    fields.push(IdField {
                        path: vec![field.name().to_owned()],
                        kind,
                    });
                }
            }
        }
    }
    IdSpec::Fields(fields)
}
