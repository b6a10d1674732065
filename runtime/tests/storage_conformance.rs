//! The storage conformance suite: every case runs against SQLite (a file in a
//! temporary directory) and PostgreSQL (a fresh database per test, on the
//! server named by `PLINTH_TEST_POSTGRES_URL`; without it the PostgreSQL
//! cases print a note and pass, except under `CI=true`, where they fail).
//! The cases are in `conformance/cases.rs`, `conformance/views.rs`,
//! `conformance/schedule.rs` and
//! `conformance/concurrency.rs`; the PostgreSQL-only ones (the feed-order
//! hazard, killed connections, an unreachable server, migrations, group
//! commit, a refused write) in `conformance/postgres_only.rs`.

mod conformance;

use conformance::{
    Backend, TestDatabase, cases, concurrency, postgres_only, schedule, trace, views,
};

/// One test per case and backend: `sqlite::CASE` and `postgres::CASE`.
macro_rules! conformance {
    ($($case:path => $name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = Backend::sqlite();
                    $case(&backend).await;
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backend) = Backend::postgres(concat!("postgres::", stringify!($name))).await
                    else {
                        return;
                    };
                    $case(&backend).await;
                }
            )*
        }
    };
}

conformance! {
    cases::state_round_trip => state_round_trip,
    cases::meta_is_stored_with_the_state_and_not_on_the_feed => meta_is_stored_with_the_state_and_not_on_the_feed,
    cases::fence_conflict_changes_nothing => fence_conflict_changes_nothing,
    cases::deletes => deletes,
    cases::journal_and_snapshot_replay => journal_and_snapshot_replay,
    cases::event_sourced_delete_is_final => event_sourced_delete_is_final,
    cases::feed_order_and_type_filter => feed_order_and_type_filter,
    cases::offsets_never_move_back => offsets_never_move_back,
    cases::leases => leases,
    trace::the_trace_of_a_change_is_on_its_feed_records => the_trace_of_a_change_is_on_its_feed_records,
    cases::live_leases_are_counted_by_prefix => live_leases_are_counted_by_prefix,
    concurrency::concurrent_writers_and_tailing_consumer => concurrent_writers_and_tailing_consumer,
    concurrency::writes_sent_together_are_fenced_one_by_one => writes_sent_together_are_fenced_one_by_one,
    views::views => views,
    schedule::due_calls_are_claimed_once_in_stored_order => due_calls_are_claimed_once_in_stored_order,
    schedule::orphans_are_claimed_before_they_are_due => orphans_are_claimed_before_they_are_due,
    schedule::calls_due_soon_are_claimed_ahead_with_their_wait => calls_due_soon_are_claimed_ahead_with_their_wait,
    schedule::a_timer_of_the_same_name_replaces_the_older => a_timer_of_the_same_name_replaces_the_older,
    schedule::cancel_removes_a_timer => cancel_removes_a_timer,
    schedule::a_retry_records_attempts_and_postpones => a_retry_records_attempts_and_postpones,
    schedule::schedule_changes_commit_with_entity_writes_only => schedule_changes_commit_with_entity_writes_only,
    schedule::writes_with_and_without_schedules_batch_together => writes_with_and_without_schedules_batch_together,
}

/// A PostgreSQL-only case on a fresh database.
macro_rules! postgres_only {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(db) = TestDatabase::create(stringify!($name)).await else {
                    return;
                };
                postgres_only::$name(&db).await;
            }
        )*
    };
}

postgres_only! {
    a_plain_sequence_feed_skips_records_and_the_feed_lock_does_not,
    killed_connections_are_transient_then_recover,
    migrations_race_apply_once_and_newer_is_refused,
    a_refused_write_fails_alone,
    operations_in_flight_fail_transient_when_killed,
    concurrent_writes_share_transactions,
}

#[tokio::test]
async fn an_unreachable_postgres_is_transient_and_fast() {
    postgres_only::an_unreachable_server_is_transient_and_fast().await;
}
