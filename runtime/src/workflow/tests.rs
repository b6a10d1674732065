//! Moves as specs: what a transition, a failure and a timeout do to a
//! workflow's stored position and schedule.

use std::time::Duration;

use super::definition::{Recover, Step, WorkflowDefinition};
use super::effect::Transition;
use super::plan::{Mover, timeout_timer};
use super::record::{Record, WorkflowStatus};
use crate::context::ActionContext;
use crate::storage::ScheduleOp;

fn definition() -> WorkflowDefinition<String> {
    WorkflowDefinition::new()
        .timeout(Duration::from_secs(60))
        .failover_to("give-up", 0)
        .step(
            Step::new(
                "work",
                |input: String, _ctx: ActionContext| async move { Ok(input) },
                |_state: &String, _out: String| Transition::end(),
            )
            .recover(Recover::max_retries(2).failover_to("undo")),
        )
        .step(Step::new(
            "undo",
            |(): (), _ctx: ActionContext| async { Ok(()) },
            |_state: &String, ()| Transition::end(),
        ))
        .step(Step::new(
            "give-up",
            |(): (), _ctx: ActionContext| async { Ok(()) },
            |_state: &String, ()| Transition::end(),
        ))
}

fn mover(definition: &WorkflowDefinition<String>) -> Mover<'_, String> {
    Mover {
        definition,
        type_id: "jobs",
        id: "j1",
    }
}

fn puts(ops: &[ScheduleOp]) -> Vec<(Option<&str>, Duration)> {
    ops.iter()
        .filter_map(|op| match op {
            ScheduleOp::Put(call) => Some((call.name.as_deref(), call.delay)),
            ScheduleOp::Cancel(_) => None,
        })
        .collect()
}

#[test]
fn the_first_move_to_a_step_schedules_it_and_the_workflow_timeout() {
    let definition = definition();
    let planned = mover(&definition)
        .plan(
            &Record::default(),
            &String::new(),
            String::new,
            Transition::to("work", "x".to_owned()).with_state("started".to_owned()),
        )
        .unwrap()
        .unwrap();
    assert_eq!(planned.state, "started");
    assert_eq!(planned.record.status(), WorkflowStatus::Running);
    assert_eq!(
        (planned.record.step.as_str(), planned.record.token),
        ("work", 1)
    );
    assert_eq!(
        (planned.record.max_retries, planned.record.unlimited),
        (2, false)
    );
    // The step's row, claimed by the writer (delivered at once), and the timeout.
    assert_eq!(
        puts(&planned.ops),
        [
            (None, crate::schedule::HOLD),
            (
                Some(timeout_timer("jobs", "j1").as_str()),
                Duration::from_secs(60)
            )
        ]
    );
    assert_eq!(planned.now.len(), 1);
}

#[test]
fn impossible_moves_are_refused() {
    let definition = definition();
    let mover = mover(&definition);
    let at = Record::default();
    let unknown = mover.plan(
        &at,
        &String::new(),
        String::new,
        Transition::to_step("nowhere"),
    );
    assert!(
        unknown
            .unwrap_err()
            .contains("there is no step \"nowhere\"")
    );
    let wrong = mover.plan(
        &at,
        &String::new(),
        String::new,
        Transition::to("work", 7u32),
    );
    assert!(
        wrong
            .unwrap_err()
            .contains("takes alloc::string::String, not u32")
    );
    let mut ended = Record::default();
    ended.set_status(WorkflowStatus::Ended);
    let again = mover.plan(
        &ended,
        &String::new(),
        String::new,
        Transition::to_step("undo"),
    );
    assert!(again.unwrap_err().contains("has ended"));
    // Changing only the state of an ended workflow is fine; changing nothing plans nothing.
    let update = mover.plan(
        &ended,
        &String::new(),
        String::new,
        Transition::update("x".into()),
    );
    assert_eq!(
        update.unwrap().unwrap().record.status(),
        WorkflowStatus::Ended
    );
    assert!(
        mover
            .plan(&at, &String::new(), String::new, Transition::stay())
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_failure_is_retried_then_fails_over() {
    let definition = definition();
    let mover = mover(&definition);
    let running = mover
        .plan(
            &Record::default(),
            &String::new(),
            String::new,
            Transition::to("work", String::new()),
        )
        .unwrap()
        .unwrap()
        .record;
    let first = mover.failed(&running, &String::new(), Duration::from_millis(200));
    assert_eq!(
        (first.record.attempts, first.record.token),
        (1, running.token + 1)
    );
    assert_eq!(puts(&first.ops), [(None, Duration::from_millis(200))]);
    assert!(first.now.is_empty(), "a retry waits for its backoff");
    let second = mover.failed(&first.record, &String::new(), Duration::ZERO);
    let third = mover.failed(&second.record, &String::new(), Duration::ZERO);
    assert_eq!(third.record.step, "undo");
    assert_eq!(third.record.attempts, 0);
    assert_eq!(third.record.status(), WorkflowStatus::Running);
    // The failover step has no recovery of its own: it is retried until it succeeds.
    assert!(third.record.unlimited);
}

#[test]
fn a_workflow_timeout_goes_to_the_failover_step_once() {
    let definition = definition();
    let mover = mover(&definition);
    assert!(
        mover
            .timed_out(&Record::default(), &String::new())
            .is_none()
    );
    let mut paused = Record::default();
    paused.set_status(WorkflowStatus::Paused);
    let planned = mover.timed_out(&paused, &String::new()).unwrap();
    assert_eq!(planned.record.step, "give-up");
    assert!(planned.record.timed_out);
    // The failover step gets the timeout's retries (none), then the workflow ends.
    assert_eq!(
        (planned.record.max_retries, planned.record.unlimited),
        (0, false)
    );
    let failed = mover.failed(&planned.record, &String::new(), Duration::ZERO);
    assert_eq!(failed.record.status(), WorkflowStatus::Ended);
    assert!(mover.timed_out(&failed.record, &String::new()).is_none());
}

#[test]
fn ending_and_deleting_cancel_the_timeout() {
    let definition = definition();
    let mover = mover(&definition);
    let mut paused = Record::default();
    paused.set_status(WorkflowStatus::Paused);
    let state = "s".to_owned();
    let deleted = mover
        .plan(&paused, &state, || "empty".to_owned(), Transition::delete())
        .unwrap()
        .unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.state, "empty");
    assert_eq!(deleted.record.status(), WorkflowStatus::Deleted);
    assert_eq!(
        deleted.ops,
        [ScheduleOp::Cancel(timeout_timer("jobs", "j1"))]
    );
    let ended = mover
        .plan(&paused, &state, String::new, Transition::end())
        .unwrap()
        .unwrap();
    assert_eq!(ended.record.status(), WorkflowStatus::Ended);
    assert_eq!(ended.state, "s");
}

#[test]
fn definitions_that_cannot_run_are_reported() {
    let broken = definition()
        .step(Step::new(
            "work",
            |(): (), _ctx: ActionContext| async { Ok(()) },
            |_s: &String, ()| Transition::end(),
        ))
        .default_step_recover(Recover::max_retries(1).failover_to_with("work", 3u32));
    let problems = broken.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("step \"work\" is defined twice"));
    assert!(problems[1].contains("default step recovery: step \"work\" takes"));
    assert!(definition().problems().is_empty());
}
