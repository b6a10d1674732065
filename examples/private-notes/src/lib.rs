//! Private notes: the notebook id is the subject of the caller's validated
//! bearer token, copied into the request by the runtime.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use crate::notes::{AddNote, NoteList, Notebook, NotesEntity, Owner};
use plinth::{CommandContext, Effect, Status};

/// The most notes a notebook keeps.
pub const MAX_NOTES: usize = 100;

/// The notebook rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notes;

impl NotesEntity for Notes {
    fn add(
        &self,
        state: &Notebook,
        command: AddNote,
        ctx: &CommandContext,
    ) -> Effect<Notebook, NoteList> {
        if command.text.trim().is_empty() {
            return Effect::error(Status::invalid_argument("a note needs some text"));
        }
        if state.notes.len() >= MAX_NOTES {
            return Effect::error(Status::resource_exhausted(format!(
                "a notebook keeps at most {MAX_NOTES} notes"
            )));
        }
        let mut notes = state.notes.clone();
        notes.push(command.text);
        let reply = NoteList {
            owner: ctx.entity_id().to_string(),
            notes: notes.clone(),
        };
        Effect::update(Notebook { notes }).then_reply(reply)
    }

    fn list(
        &self,
        state: &Notebook,
        _command: Owner,
        ctx: &CommandContext,
    ) -> Effect<Notebook, NoteList> {
        Effect::reply(NoteList {
            owner: ctx.entity_id().to_string(),
            notes: state.notes.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(text: &str) -> AddNote {
        AddNote {
            owner: "alice".into(),
            text: text.into(),
        }
    }

    #[test]
    fn notes_are_kept_in_order_and_empty_ones_refused() {
        let ctx = CommandContext::new("alice");
        let effect = Notes.add(&Notebook::default(), add("one"), &ctx);
        let state = effect.updated_state().cloned().expect("stored");
        let effect = Notes.add(&state, add("two"), &ctx);
        assert_eq!(
            effect.updated_state().map(|s| s.notes.clone()),
            Some(vec!["one".into(), "two".into()])
        );
        assert!(Notes.add(&state, add("  "), &ctx).error_status().is_some());
        let full = Notebook {
            notes: vec!["n".into(); MAX_NOTES],
        };
        assert!(Notes.add(&full, add("more"), &ctx).error_status().is_some());
    }
}
