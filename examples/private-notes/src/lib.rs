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
    use plinth::Code;

    use super::notes::NotesEntityTestKit;
    use super::*;

    fn add(text: &str) -> AddNote {
        AddNote {
            owner: "alice".into(),
            text: text.into(),
        }
    }

    #[test]
    fn notes_are_kept_in_order_and_empty_ones_refused() {
        let mut notebook = NotesEntityTestKit::with_id("alice", Notes);
        notebook.add(add("one"));
        let two = notebook.add(add("two"));
        assert_eq!(two.reply().owner, "alice");
        assert_eq!(notebook.state().notes, ["one", "two"]);
        assert_eq!(
            notebook.add(add("  ")).error().code(),
            Code::InvalidArgument
        );
        notebook.set_state(Notebook {
            notes: vec!["n".into(); MAX_NOTES],
        });
        assert_eq!(
            notebook.add(add("more")).error().code(),
            Code::ResourceExhausted
        );
        let listed = notebook.list(Owner {
            owner: "alice".into(),
        });
        assert_eq!(listed.reply().notes.len(), MAX_NOTES);
    }
}
