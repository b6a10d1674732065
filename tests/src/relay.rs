//! The test kits' fixture (`protos/relay.proto`): an inbox entity and an
//! action that relays notes to it.

pub use crate::generated::relay::*;

use std::time::Duration;

use futures::StreamExt;
use plinth::{ActionContext, CommandContext, Effect, ReplyStream, Status};

/// The inboxes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inboxes;

impl InboxEntity for Inboxes {
    fn deliver(&self, state: &Inbox, command: Note, _ctx: &CommandContext) -> Effect<Inbox, Inbox> {
        if command.text.is_empty() {
            return Effect::error(Status::invalid_argument("an empty note"));
        }
        let mut next = state.clone();
        next.texts.push(command.text);
        Effect::update(next.clone()).then_reply(next)
    }

    fn read(&self, state: &Inbox, _command: Note, _ctx: &CommandContext) -> Effect<Inbox, Inbox> {
        Effect::reply(state.clone())
    }
}

/// The relay.
#[derive(Debug, Clone, Copy, Default)]
pub struct Relay;

impl RelayAction for Relay {
    async fn relay(&self, request: Note, ctx: ActionContext) -> Result<Inbox, Status> {
        let inbox = ctx
            .call(InboxServiceClient::deliver(request.clone()))
            .await?;
        let announcement = serde_json::json!({
            "inbox": request.inbox_id,
            "notes": inbox.texts.len(),
        });
        ctx.publish_encoded(
            "relayed",
            "relay.Relayed",
            "application/json",
            announcement.to_string().into(),
        )
        .await?;
        ctx.timers()
            .start_single(
                &format!("remind-{}", request.inbox_id),
                Duration::from_secs(3600),
                InboxServiceClient::deliver(Note {
                    inbox_id: request.inbox_id,
                    text: "reminder".into(),
                }),
                2,
            )
            .await?;
        Ok(inbox)
    }

    async fn words(&self, request: Note, _ctx: ActionContext) -> Result<ReplyStream<Note>, Status> {
        let inbox = request.inbox_id.clone();
        let words: Vec<Result<Note, Status>> = request
            .text
            .split_whitespace()
            .map(|word| {
                Ok(Note {
                    inbox_id: inbox.clone(),
                    text: word.to_owned(),
                })
            })
            .collect();
        Ok(futures::stream::iter(words).boxed())
    }
}
