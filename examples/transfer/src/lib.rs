//! Wallets and transfers between them.
//!
//! [`Wallets`] is a value entity: a balance that never goes below zero.
//! [`Transfers`] is a workflow: `withdraw` from the source wallet, then
//! `deposit` into the destination. A withdrawal the source cannot pay ends
//! the transfer as failed; a deposit the destination refuses runs the
//! `compensate` step, which refunds the source. Transfers above
//! [`Transfers::threshold`] wait for [`Accept`](com::example::transfer::api::TransferRef)
//! and are cancelled by a timer if nobody accepts in time. Steps that keep
//! failing, and transfers that run too long, go to `failover-handler`,
//! which marks them for manual intervention.
//!
//! Steps run at least once, so every wallet operation carries an id made
//! from the transfer's, and a wallet applies each operation once.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use std::time::Duration;

use com::example::transfer::api::{
    Transfer, TransferRef, TransferWorkflow, TransferWorkflowServiceClient,
};
use com::example::transfer::domain::{TransferState, TransferStatus};
use com::example::wallet::api::{
    DepositRequest, GetRequest, InitialBalance, WalletEntity, WalletServiceClient, WalletState,
    WithdrawRequest,
};
use plinth::workflow::WorkflowStatus;
use plinth::{
    ActionContext, Code, CommandContext, Effect, Recover, Status, Step, Transition,
    WorkflowContext, WorkflowDefinition, WorkflowEffect,
};

/// How many operation ids a wallet remembers.
const REMEMBERED_OPERATIONS: usize = 100;

/// The wallets' rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wallets;

fn unknown_wallet(ctx: &CommandContext) -> Status {
    Status::not_found(format!("wallet {} does not exist", ctx.entity_id()))
}

fn positive(amount: i32) -> Result<(), Status> {
    if amount > 0 {
        Ok(())
    } else {
        Err(Status::invalid_argument("amount must be positive"))
    }
}

/// The wallet after operation `operation_id` changed its balance by `by`.
fn applied(state: &WalletState, operation_id: &str, by: i32) -> WalletState {
    let mut next = state.clone();
    next.balance += by;
    if !operation_id.is_empty() {
        next.operations.push(operation_id.to_owned());
        let extra = next.operations.len().saturating_sub(REMEMBERED_OPERATIONS);
        next.operations.drain(..extra);
    }
    next
}

fn seen(state: &WalletState, operation_id: &str) -> bool {
    !operation_id.is_empty() && state.operations.iter().any(|op| op == operation_id)
}

impl WalletEntity for Wallets {
    fn create(
        &self,
        state: &WalletState,
        command: InitialBalance,
        ctx: &CommandContext,
    ) -> Effect<WalletState, ()> {
        if !state.id.is_empty() {
            return Effect::error(Status::already_exists(format!(
                "wallet {} exists",
                ctx.entity_id()
            )));
        }
        if command.balance < 0 {
            return Effect::error(Status::invalid_argument("balance must not be negative"));
        }
        Effect::update(WalletState {
            id: command.wallet_id,
            balance: command.balance,
            operations: Vec::new(),
        })
        .then_reply(())
    }

    fn withdraw(
        &self,
        state: &WalletState,
        command: WithdrawRequest,
        ctx: &CommandContext,
    ) -> Effect<WalletState, ()> {
        if state.id.is_empty() {
            return Effect::error(unknown_wallet(ctx));
        }
        if seen(state, &command.operation_id) {
            return Effect::reply(());
        }
        if let Err(status) = positive(command.amount) {
            return Effect::error(status);
        }
        if state.balance < command.amount {
            return Effect::error(Status::failed_precondition(format!(
                "insufficient funds: wallet {} holds {}",
                ctx.entity_id(),
                state.balance
            )));
        }
        Effect::update(applied(state, &command.operation_id, -command.amount)).then_reply(())
    }

    fn deposit(
        &self,
        state: &WalletState,
        command: DepositRequest,
        ctx: &CommandContext,
    ) -> Effect<WalletState, ()> {
        if state.id.is_empty() {
            return Effect::error(unknown_wallet(ctx));
        }
        if seen(state, &command.operation_id) {
            return Effect::reply(());
        }
        if let Err(status) = positive(command.amount) {
            return Effect::error(status);
        }
        Effect::update(applied(state, &command.operation_id, command.amount)).then_reply(())
    }

    fn get_wallet_state(
        &self,
        state: &WalletState,
        _command: GetRequest,
        ctx: &CommandContext,
    ) -> Effect<WalletState, WalletState> {
        if state.id.is_empty() {
            return Effect::error(unknown_wallet(ctx));
        }
        Effect::reply(state.clone())
    }
}

/// The transfers' rules and settings.
#[derive(Debug, Clone, Copy)]
pub struct Transfers {
    /// Transfers above this amount wait for acceptance.
    pub threshold: i32,
    /// How long a transfer waits for acceptance before it is cancelled.
    pub acceptance_timeout: Duration,
}

impl Default for Transfers {
    fn default() -> Self {
        Transfers {
            threshold: 1000,
            acceptance_timeout: Duration::from_secs(3600),
        }
    }
}

/// How long a transfer may run beyond its acceptance time before it is
/// handed to manual intervention.
const RUNNING_TIME: Duration = Duration::from_secs(60);

fn with_status(state: &TransferState, status: TransferStatus) -> TransferState {
    let mut next = state.clone();
    next.status = status as i32;
    next
}

fn acceptance_timer(transfer_id: &str) -> String {
    format!("transfer-acceptance-{transfer_id}")
}

fn withdrawal(state: &TransferState) -> WithdrawRequest {
    WithdrawRequest {
        wallet_id: state.from.clone(),
        amount: state.amount,
        operation_id: format!("{}-withdraw", state.transfer_id),
    }
}

/// The outcome of a wallet call the transfer decides on: done, or refused
/// for a business reason (anything else is a failure the step recovers from).
async fn wallet_call(
    ctx: &ActionContext,
    call: plinth::DeferredCall<()>,
    refused: Code,
) -> Result<bool, Status> {
    match ctx.call(call).await {
        Ok(()) => Ok(true),
        Err(status) if status.code() == refused => Ok(false),
        Err(status) => Err(status),
    }
}

impl TransferWorkflow for Transfers {
    fn definition(&self) -> WorkflowDefinition<TransferState> {
        WorkflowDefinition::new()
            .timeout(self.acceptance_timeout + RUNNING_TIME)
            .failover_to("failover-handler", 0)
            .default_step_timeout(Duration::from_secs(2))
            .default_step_recover(Recover::max_retries(1).failover_to("failover-handler"))
            .step(Step::new(
                "withdraw",
                |request: WithdrawRequest, ctx: ActionContext| async move {
                    wallet_call(
                        &ctx,
                        WalletServiceClient::withdraw(request),
                        Code::FailedPrecondition,
                    )
                    .await
                },
                |state: &TransferState, withdrawn: bool| {
                    if !withdrawn {
                        return Transition::end()
                            .with_state(with_status(state, TransferStatus::WithdrawFailed));
                    }
                    let deposit = DepositRequest {
                        wallet_id: state.to.clone(),
                        amount: state.amount,
                        operation_id: format!("{}-deposit", state.transfer_id),
                    };
                    Transition::to("deposit", deposit)
                        .with_state(with_status(state, TransferStatus::WithdrawSucceeded))
                },
            ))
            .step(
                Step::new(
                    "deposit",
                    |request: DepositRequest, ctx: ActionContext| async move {
                        wallet_call(&ctx, WalletServiceClient::deposit(request), Code::NotFound)
                            .await
                    },
                    |state: &TransferState, deposited: bool| {
                        if deposited {
                            return Transition::end()
                                .with_state(with_status(state, TransferStatus::Completed));
                        }
                        let refund = DepositRequest {
                            wallet_id: state.from.clone(),
                            amount: state.amount,
                            operation_id: format!("{}-refund", state.transfer_id),
                        };
                        Transition::to("compensate", refund)
                            .with_state(with_status(state, TransferStatus::DepositFailed))
                    },
                )
                .recover(Recover::max_retries(2).failover_to("failover-handler")),
            )
            .step(Step::new(
                "compensate",
                |refund: DepositRequest, ctx: ActionContext| async move {
                    ctx.call(WalletServiceClient::deposit(refund)).await
                },
                |state: &TransferState, ()| {
                    Transition::end()
                        .with_state(with_status(state, TransferStatus::CompensationCompleted))
                },
            ))
            .step(Step::new(
                "failover-handler",
                |(): (), _ctx: ActionContext| async { Ok(()) },
                |state: &TransferState, ()| {
                    Transition::end().with_state(with_status(
                        state,
                        TransferStatus::RequiresManualIntervention,
                    ))
                },
            ))
    }

    fn start(
        &self,
        _state: &TransferState,
        command: Transfer,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<TransferState, ()> {
        if ctx.position().status != WorkflowStatus::NotStarted {
            return WorkflowEffect::error(Status::already_exists(format!(
                "transfer {} exists",
                ctx.entity_id()
            )));
        }
        if let Err(status) = positive(command.amount) {
            return WorkflowEffect::error(status);
        }
        if command.from == command.to {
            return WorkflowEffect::error(Status::invalid_argument(
                "from and to must be different wallets",
            ));
        }
        let state = TransferState {
            from: command.from,
            to: command.to,
            amount: command.amount,
            status: TransferStatus::Started as i32,
            transfer_id: command.transfer_id,
        };
        if command.amount > self.threshold {
            ctx.timers().start_single(
                &acceptance_timer(&state.transfer_id),
                self.acceptance_timeout,
                TransferWorkflowServiceClient::acceptance_timeout(TransferRef {
                    transfer_id: state.transfer_id.clone(),
                }),
                3,
            );
            return Transition::pause()
                .with_state(with_status(&state, TransferStatus::WaitingForAcceptance))
                .then_reply(());
        }
        Transition::to("withdraw", withdrawal(&state))
            .with_state(state)
            .then_reply(())
    }

    fn accept(
        &self,
        state: &TransferState,
        _command: TransferRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<TransferState, ()> {
        if state.status != TransferStatus::WaitingForAcceptance as i32
            || ctx.position().status != WorkflowStatus::Paused
        {
            return WorkflowEffect::error(Status::failed_precondition(format!(
                "transfer {} is not waiting for acceptance",
                ctx.entity_id()
            )));
        }
        ctx.timers().cancel(&acceptance_timer(&state.transfer_id));
        Transition::to("withdraw", withdrawal(state))
            .with_state(with_status(state, TransferStatus::Started))
            .then_reply(())
    }

    fn acceptance_timeout(
        &self,
        state: &TransferState,
        _command: TransferRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<TransferState, ()> {
        if state.status != TransferStatus::WaitingForAcceptance as i32
            || ctx.position().status != WorkflowStatus::Paused
        {
            // Accepted meanwhile, or already cancelled: nothing to do.
            return WorkflowEffect::reply(());
        }
        Transition::end()
            .with_state(with_status(
                state,
                TransferStatus::TransferAcceptanceTimedOut,
            ))
            .then_reply(())
    }

    fn get_transfer_state(
        &self,
        state: &TransferState,
        _command: TransferRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<TransferState, TransferState> {
        if ctx.position().status == WorkflowStatus::NotStarted {
            return WorkflowEffect::error(Status::not_found(format!(
                "transfer {} does not exist",
                ctx.entity_id()
            )));
        }
        WorkflowEffect::reply(state.clone())
    }
}

#[cfg(test)]
mod tests {
    use plinth::workflow::WorkflowStatus;

    use super::com::example::transfer::api::TransferWorkflowTestKit;
    use super::*;

    fn transfer(amount: i32) -> Transfer {
        Transfer {
            transfer_id: "t1".into(),
            from: "a".into(),
            to: "b".into(),
            amount,
        }
    }

    fn status(kit: &TransferWorkflowTestKit<Transfers>) -> TransferStatus {
        TransferStatus::try_from(kit.state().status).expect("a known status")
    }

    fn wallets_that_pay(kit: &mut TransferWorkflowTestKit<Transfers>) {
        kit.when(WalletServiceClient::withdraw).reply(|_| Ok(()));
        kit.when(WalletServiceClient::deposit).reply(|_| Ok(()));
    }

    #[tokio::test]
    async fn a_small_transfer_withdraws_then_deposits() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        wallets_that_pay(&mut kit);
        kit.start(transfer(10)).reply();
        assert_eq!(kit.position().step.as_deref(), Some("withdraw"));
        kit.run_step().await.expect("withdrawn");
        assert_eq!(status(&kit), TransferStatus::WithdrawSucceeded);
        let end = kit.run_steps(10).await;
        assert_eq!(end.status, WorkflowStatus::Ended);
        assert_eq!(status(&kit), TransferStatus::Completed);
        let calls = kit.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0].request::<WithdrawRequest>().operation_id,
            "t1-withdraw"
        );
        assert_eq!(calls[1].request::<DepositRequest>().wallet_id, "b");
    }

    #[tokio::test]
    async fn a_refused_deposit_is_compensated() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        kit.when(WalletServiceClient::withdraw).reply(|_| Ok(()));
        kit.when(WalletServiceClient::deposit).reply(|deposit| {
            if deposit.wallet_id == "b" {
                Err(Status::not_found("no wallet b"))
            } else {
                Ok(())
            }
        });
        kit.start(transfer(10));
        kit.run_steps(10).await;
        assert_eq!(status(&kit), TransferStatus::CompensationCompleted);
        let refund = kit
            .calls()
            .last()
            .expect("a refund")
            .request::<DepositRequest>();
        assert_eq!(
            (refund.wallet_id.as_str(), refund.operation_id.as_str()),
            ("a", "t1-refund")
        );
    }

    #[tokio::test]
    async fn a_failing_wallet_sends_the_transfer_to_manual_intervention() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        kit.when(WalletServiceClient::withdraw)
            .fail(Status::unavailable("wallets are down"));
        kit.start(transfer(10));
        let failure = kit.run_step().await.expect_err("the first attempt fails");
        assert_eq!(failure.code(), Code::Unavailable);
        assert_eq!(kit.position().attempts, 1);
        kit.run_steps(10).await;
        assert_eq!(status(&kit), TransferStatus::RequiresManualIntervention);
        assert_eq!(kit.position().status, WorkflowStatus::Ended);
    }

    #[test]
    fn a_large_transfer_waits_for_acceptance_and_times_out() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        let started = kit.start(transfer(5000));
        assert_eq!(started.position().status, WorkflowStatus::Paused);
        let timer = kit
            .timer("transfer-acceptance-t1")
            .expect("a timer")
            .clone();
        assert_eq!(timer.delay, Duration::from_secs(3600));
        assert!(kit.advance(Duration::from_secs(3599)).is_empty());
        let fired = kit.advance(Duration::from_secs(1));
        assert_eq!(fired.len(), 1);
        // The timer calls AcceptanceTimeout: make that call.
        kit.acceptance_timeout(fired[0].request::<TransferRef>());
        assert_eq!(status(&kit), TransferStatus::TransferAcceptanceTimedOut);
        assert_eq!(kit.position().status, WorkflowStatus::Ended);
    }

    #[tokio::test]
    async fn accepting_cancels_the_timer_and_runs_the_transfer() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        wallets_that_pay(&mut kit);
        kit.start(transfer(5000));
        let accept = TransferRef {
            transfer_id: "t1".into(),
        };
        let accepted = kit.accept(accept.clone());
        assert!(
            accepted
                .timers()
                .contains(&plinth::testkit::TimerChange::Cancelled(
                    "transfer-acceptance-t1".into()
                ))
        );
        assert!(kit.pending_timers().is_empty());
        kit.run_steps(10).await;
        assert_eq!(status(&kit), TransferStatus::Completed);
        assert_eq!(kit.accept(accept).error().code(), Code::FailedPrecondition);
    }

    #[test]
    fn a_transfer_that_runs_too_long_goes_to_manual_intervention() {
        let mut kit = TransferWorkflowTestKit::with_id("t1", Transfers::default());
        kit.start(transfer(10));
        // The withdrawal never ran: past the workflow's timeout, the
        // timeout's failover step takes over.
        kit.advance(Duration::from_secs(3600 + 61));
        assert_eq!(kit.position().step.as_deref(), Some("failover-handler"));
        assert!(kit.position().timed_out);
    }

    #[test]
    fn bad_transfers_are_refused() {
        let mut kit = TransferWorkflowTestKit::of(Transfers::default());
        assert_eq!(kit.start(transfer(0)).error().code(), Code::InvalidArgument);
        let to_self = Transfer {
            to: "a".into(),
            ..transfer(5)
        };
        assert_eq!(kit.start(to_self).error().code(), Code::InvalidArgument);
        assert_eq!(kit.position().status, WorkflowStatus::NotStarted);
    }
}
