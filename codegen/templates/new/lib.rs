//! The business logic of {{crate}}: every handler below is all the code a
//! component needs; the runtime serves, stores, projects and delivers.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use plinth::{ActionContext, CommandContext, Effect, EventEffect, Status};

use crate::{{lib}}::{
    AwardPoint, CreateTask, OwnerId, PointAwarded, Score, ScoreEntity, ScoreEntityComponent,
    ScoreEntityEffect, ScoreServiceClient, ScoreState, Task, TaskEntity, TaskEntityComponent,
    TaskEventsAction, TaskEventsActionComponent, TaskId, TasksByOwnerView,
};

/// The service: every component with its logic.
pub fn service() -> plinth::Service {
    plinth::Service::new()
        .with(TaskEntityComponent::new(Tasks))
        .with(ScoreEntityComponent::new(Scores))
        .with(TaskEventsActionComponent::new(Awards))
        .with(TasksByOwnerView)
}

/// The rules of a task.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tasks;

impl TaskEntity for Tasks {
    fn create(
        &self,
        state: &Task,
        command: CreateTask,
        ctx: &CommandContext,
    ) -> Effect<Task, Task> {
        if !state.task_id.is_empty() {
            return Effect::error(Status::already_exists(format!(
                "task {} exists",
                ctx.entity_id()
            )));
        }
        if command.owner.is_empty() {
            return Effect::error(Status::invalid_argument("owner must not be empty"));
        }
        let task = Task {
            task_id: command.task_id,
            owner: command.owner,
            title: command.title,
            done: false,
        };
        Effect::update(task.clone()).then_reply(task)
    }

    fn finish(&self, state: &Task, _command: TaskId, ctx: &CommandContext) -> Effect<Task, Task> {
        if state.task_id.is_empty() {
            return Effect::error(Status::not_found(format!(
                "no task {}",
                ctx.entity_id()
            )));
        }
        let task = Task {
            done: true,
            ..state.clone()
        };
        Effect::update(task.clone()).then_reply(task)
    }

    fn get(&self, state: &Task, _command: TaskId, ctx: &CommandContext) -> Effect<Task, Task> {
        if state.task_id.is_empty() {
            return Effect::error(Status::not_found(format!(
                "no task {}",
                ctx.entity_id()
            )));
        }
        Effect::reply(state.clone())
    }
}

/// The rules of an owner's score.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scores;

fn score(state: &ScoreState) -> Score {
    Score {
        points: i32::try_from(state.task_ids.len()).unwrap_or(i32::MAX),
    }
}

impl ScoreEntity for Scores {
    fn award(
        &self,
        state: &ScoreState,
        command: AwardPoint,
        _ctx: &CommandContext,
    ) -> ScoreEntityEffect<Score> {
        if command.task_id.is_empty() {
            return EventEffect::error(Status::invalid_argument("task_id must not be empty"));
        }
        // Deliveries are at least once: a task already counted counts once.
        if state.task_ids.contains(&command.task_id) {
            return EventEffect::reply(score(state));
        }
        EventEffect::emit(PointAwarded {
            task_id: command.task_id,
        })
        .then_reply(score)
    }

    fn get(
        &self,
        state: &ScoreState,
        _command: OwnerId,
        _ctx: &CommandContext,
    ) -> ScoreEntityEffect<Score> {
        EventEffect::reply(score(state))
    }

    fn apply_point_awarded(&self, state: &mut ScoreState, event: &PointAwarded) {
        state.task_ids.push(event.task_id.clone());
    }
}

/// Awards a point for each finished task.
#[derive(Debug, Clone, Copy, Default)]
pub struct Awards;

impl TaskEventsAction for Awards {
    async fn on_task_changed(&self, task: Task, ctx: ActionContext) -> Result<(), Status> {
        if !task.done {
            return Ok(());
        }
        ctx.call(ScoreServiceClient::award(AwardPoint {
            owner: task.owner,
            task_id: task.task_id,
        }))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use plinth::{Code, Status};

    use super::{{lib}}::{ScoreEntityTestKit, TaskEntityTestKit, TaskEventsActionTestKit};
    use super::*;

    fn create(task_id: &str, owner: &str) -> CreateTask {
        CreateTask {
            task_id: task_id.into(),
            owner: owner.into(),
            title: "write the tests".into(),
        }
    }

    fn award(task_id: &str) -> AwardPoint {
        AwardPoint {
            owner: "ada".into(),
            task_id: task_id.into(),
        }
    }

    #[test]
    fn a_task_is_created_once_and_then_finished() {
        let mut task = TaskEntityTestKit::with_id("t1", Tasks);
        let created = task.create(create("t1", "ada"));
        assert_eq!(created.reply().owner, "ada");
        assert!(!task.state().done);
        let again = task.create(create("t1", "bob"));
        assert_eq!(again.error().code(), Code::AlreadyExists);
        assert_eq!(task.state().owner, "ada", "a refused command changes nothing");
        let finished = task.finish(TaskId {
            task_id: "t1".into(),
        });
        assert!(finished.updated_state().expect("stored").done);
    }

    #[test]
    fn an_unknown_task_is_not_found() {
        let mut task = TaskEntityTestKit::with_id("t9", Tasks);
        let id = TaskId {
            task_id: "t9".into(),
        };
        assert_eq!(task.get(id.clone()).error().code(), Code::NotFound);
        assert_eq!(task.finish(id).error().code(), Code::NotFound);
    }

    #[test]
    fn a_point_per_task_however_often_it_is_awarded() {
        let mut scores = ScoreEntityTestKit::with_id("ada", Scores);
        let mut first = scores.award(award("t1"));
        assert_eq!(first.next_event::<PointAwarded>().task_id, "t1");
        assert_eq!(first.reply().points, 1);
        let again = scores.award(award("t1"));
        assert!(again.events().is_empty(), "counted once");
        assert_eq!(again.reply().points, 1);
        scores.award(award("t2"));
        assert_eq!(scores.recovered_state(), *scores.state());
        assert_eq!(score(scores.state()).points, 2);
    }

    #[tokio::test]
    async fn a_finished_task_awards_its_owner_a_point() {
        let mut awards = TaskEventsActionTestKit::of(Awards);
        awards
            .when(ScoreServiceClient::award)
            .reply(|_| Ok(Score { points: 1 }));
        let task = Task {
            task_id: "t1".into(),
            owner: "ada".into(),
            title: "write the tests".into(),
            done: true,
        };
        let open = awards
            .on_task_changed(Task {
                done: false,
                ..task.clone()
            })
            .await;
        open.reply();
        assert!(open.calls().is_empty(), "an open task awards nothing");
        let done = awards.on_task_changed(task).await;
        done.reply();
        let [call] = done.calls() else {
            panic!("one call, not {:?}", done.calls())
        };
        assert_eq!(call.request::<AwardPoint>(), award("t1"));
    }

    #[tokio::test]
    async fn a_failed_award_fails_the_delivery_so_it_is_retried() {
        let mut awards = TaskEventsActionTestKit::of(Awards);
        awards
            .when(ScoreServiceClient::award)
            .fail(Status::unavailable("try again"));
        let done = Task {
            task_id: "t1".into(),
            owner: "ada".into(),
            done: true,
            ..Task::default()
        };
        assert_eq!(
            awards.on_task_changed(done).await.error().code(),
            Code::Unavailable
        );
    }
}
