//! A workflow's steps, written in user code: each step runs an async call
//! and then a synchronous transition from its result; timeouts and recovery
//! per step, by default, and for the whole workflow.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::effect::{StepInput, Transition};
use crate::context::ActionContext;
use crate::status::Status;

/// How long a step may run when neither it nor the workflow says (Kalix's
/// default).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// The transition a finished step's call left, waiting for the workflow's
/// state at the time it is applied.
pub(crate) type Then<S> = Box<dyn FnOnce(&S) -> Transition<S> + Send>;

/// A step with its types erased.
trait Run<S>: Send + Sync {
    fn run(&self, input: &[u8], ctx: ActionContext) -> BoxFuture<'static, Result<Then<S>, Status>>;
}

/// A step's call and transition with their input and output types.
struct Typed<F, T, I, O> {
    call: F,
    then: Arc<T>,
    types: std::marker::PhantomData<fn(I) -> O>,
}

impl<S, I, O, F, Fut, T> Run<S> for Typed<F, T, I, O>
where
    S: 'static,
    I: prost::Message + Default + 'static,
    O: Send + 'static,
    F: Fn(I, ActionContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, Status>> + Send + 'static,
    T: Fn(&S, O) -> Transition<S> + Send + Sync + 'static,
{
    fn run(&self, input: &[u8], ctx: ActionContext) -> BoxFuture<'static, Result<Then<S>, Status>> {
        let input = match I::decode(input) {
            Ok(input) => input,
            Err(error) => {
                let status = Status::internal(format!("the step input does not decode: {error}"));
                return Box::pin(async move { Err(status) });
            }
        };
        let call = (self.call)(input, ctx);
        let then = self.then.clone();
        Box::pin(async move {
            let output = call.await?;
            Ok(Box::new(move |state: &S| then(state, output)) as Then<S>)
        })
    }
}

/// One named step: an async call (to other components through the
/// generated clients, or any async code) and a synchronous transition from
/// its result.
pub struct Step<S> {
    pub(crate) name: String,
    pub(crate) input: TypeId,
    pub(crate) input_name: &'static str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) recover: Option<Recover>,
    run: Arc<dyn Run<S>>,
}

impl<S: 'static> Step<S> {
    /// The step `name`: `call` runs with the step's input (a message of type
    /// `I`) and a context that calls other components; `and_then` picks the
    /// state and what comes next from the call's result and the workflow's
    /// state at that time. A call that fails (or times out) is handled by the
    /// step's recovery.
    pub fn new<I, O, F, Fut, T>(name: &str, call: F, and_then: T) -> Step<S>
    where
        I: prost::Message + Default + 'static,
        O: Send + 'static,
        F: Fn(I, ActionContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Status>> + Send + 'static,
        T: Fn(&S, O) -> Transition<S> + Send + Sync + 'static,
    {
        let typed = Typed {
            call,
            then: Arc::new(and_then),
            types: std::marker::PhantomData::<fn(I) -> O>,
        };
        Step {
            name: name.to_owned(),
            input: TypeId::of::<I>(),
            input_name: std::any::type_name::<I>(),
            timeout: None,
            recover: None,
            run: Arc::new(typed),
        }
    }

    /// Cut the step's call off after `timeout` (else the workflow's default
    /// step timeout); a timeout is a failure.
    pub fn timeout(mut self, timeout: Duration) -> Step<S> {
        self.timeout = Some(timeout);
        self
    }

    /// What to do when the step's call fails (else the workflow's default).
    pub fn recover(mut self, recover: Recover) -> Step<S> {
        self.recover = Some(recover);
        self
    }

    /// Start the step's call.
    pub(crate) fn run(
        &self,
        input: &[u8],
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<Then<S>, Status>> {
        self.run.run(input, ctx)
    }
}

impl<S> std::fmt::Debug for Step<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("input", &self.input_name)
            .field("timeout", &self.timeout)
            .field("recover", &self.recover)
            .finish_non_exhaustive()
    }
}

/// A recovery strategy: retry a failing step `max_retries` times, then go
/// to a failover step. Built as `Recover::max_retries(2).failover_to("refund")`.
#[derive(Debug, Clone)]
pub struct Recover {
    pub(crate) max_retries: u32,
    pub(crate) failover: String,
    pub(crate) input: Option<StepInput>,
}

/// The first half of a [`Recover`]: how many retries.
#[derive(Debug, Clone, Copy)]
#[must_use = "finish it with failover_to"]
pub struct MaxRetries(u32);

impl Recover {
    /// Retry a failing step this many times before failing over.
    pub fn max_retries(max_retries: u32) -> MaxRetries {
        MaxRetries(max_retries)
    }
}

impl MaxRetries {
    /// Then go to step `step`, with the default value of its input.
    pub fn failover_to(self, step: &str) -> Recover {
        Recover {
            max_retries: self.0,
            failover: step.to_owned(),
            input: None,
        }
    }

    /// Then go to step `step` with `input`.
    pub fn failover_to_with<I: prost::Message + 'static>(self, step: &str, input: I) -> Recover {
        Recover {
            max_retries: self.0,
            failover: step.to_owned(),
            input: Some(StepInput::of(&input)),
        }
    }
}

/// A workflow's steps and its timeouts and recovery
/// (`WorkflowDefinition::new().step(..).step(..)`).
pub struct WorkflowDefinition<S> {
    pub(crate) steps: HashMap<String, Step<S>>,
    pub(crate) order: Vec<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) timeout_failover: Option<Recover>,
    pub(crate) default_step_timeout: Duration,
    pub(crate) default_recover: Option<Recover>,
    pub(crate) duplicates: Vec<String>,
}

impl<S> Default for WorkflowDefinition<S> {
    fn default() -> Self {
        WorkflowDefinition {
            steps: HashMap::new(),
            order: Vec::new(),
            timeout: None,
            timeout_failover: None,
            default_step_timeout: DEFAULT_STEP_TIMEOUT,
            default_recover: None,
            duplicates: Vec::new(),
        }
    }
}

impl<S: 'static> WorkflowDefinition<S> {
    /// A definition with no steps, no workflow timeout, the default step
    /// timeout and no default recovery (a failing step is retried with
    /// backoff until it succeeds).
    pub fn new() -> WorkflowDefinition<S> {
        WorkflowDefinition::default()
    }

    /// Add a step (names are unique within the workflow).
    pub fn step(mut self, step: Step<S>) -> WorkflowDefinition<S> {
        if self.steps.contains_key(&step.name) {
            self.duplicates.push(step.name.clone());
            return self;
        }
        self.order.push(step.name.clone());
        self.steps.insert(step.name.clone(), step);
        self
    }

    /// End a workflow that runs longer than `timeout` from its start: it
    /// goes to the failover step ([`WorkflowDefinition::failover_to`]), or
    /// ends where it is when it has none.
    pub fn timeout(mut self, timeout: Duration) -> WorkflowDefinition<S> {
        self.timeout = Some(timeout);
        self
    }

    /// The step a timed-out workflow goes to, retried `max_retries` times if
    /// it fails; the workflow ends after it whatever its transition says.
    pub fn failover_to(mut self, step: &str, max_retries: u32) -> WorkflowDefinition<S> {
        self.timeout_failover = Some(Recover::max_retries(max_retries).failover_to(step));
        self
    }

    /// [`WorkflowDefinition::failover_to`] with an input for the step.
    pub fn failover_to_with<I: prost::Message + 'static>(
        mut self,
        step: &str,
        input: I,
        max_retries: u32,
    ) -> WorkflowDefinition<S> {
        self.timeout_failover =
            Some(Recover::max_retries(max_retries).failover_to_with(step, input));
        self
    }

    /// How long a step may run unless it says otherwise (default 5 s).
    pub fn default_step_timeout(mut self, timeout: Duration) -> WorkflowDefinition<S> {
        self.default_step_timeout = timeout;
        self
    }

    /// The recovery of steps that have none of their own.
    pub fn default_step_recover(mut self, recover: Recover) -> WorkflowDefinition<S> {
        self.default_recover = Some(recover);
        self
    }

    /// The problems that make the definition unusable: duplicate step
    /// names, failover steps that do not exist, inputs of the wrong type.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .duplicates
            .iter()
            .map(|name| format!("step {name:?} is defined twice"))
            .collect();
        let mut check = |what: &str, recover: &Recover| {
            problems.extend(
                self.check_target(&recover.failover, recover.input.as_ref())
                    .err()
                    .map(|e| format!("{what}: {e}")),
            );
        };
        for name in &self.order {
            if let Some(recover) = &self.steps[name].recover {
                check(&format!("the recovery of step {name:?}"), recover);
            }
        }
        if let Some(recover) = &self.default_recover {
            check("the default step recovery", recover);
        }
        if let Some(recover) = &self.timeout_failover {
            check("the workflow timeout's failover", recover);
        }
        problems
    }

    /// Whether a move to `step` with `input` is possible.
    pub(crate) fn check_target(
        &self,
        step: &str,
        input: Option<&StepInput>,
    ) -> Result<&Step<S>, String> {
        let Some(target) = self.steps.get(step) else {
            let known = self.order.join(", ");
            return Err(format!("there is no step {step:?} (steps: {known})"));
        };
        if let Some(input) = input
            && input.type_id != target.input
        {
            return Err(format!(
                "step {step:?} takes {}, not {}",
                target.input_name, input.type_name
            ));
        }
        Ok(target)
    }

    /// The timeout of step `step`.
    pub(crate) fn step_timeout(&self, step: &Step<S>) -> Duration {
        step.timeout.unwrap_or(self.default_step_timeout)
    }

    /// The recovery of step `step`.
    pub(crate) fn recover_of<'a>(&'a self, step: &'a Step<S>) -> Option<&'a Recover> {
        step.recover.as_ref().or(self.default_recover.as_ref())
    }
}

impl<S> std::fmt::Debug for WorkflowDefinition<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowDefinition")
            .field("steps", &self.order)
            .field("timeout", &self.timeout)
            .field("default_step_timeout", &self.default_step_timeout)
            .finish_non_exhaustive()
    }
}

/// Unused input bytes of a step without one: the default of its type.
pub(crate) fn input_bytes(input: Option<&StepInput>) -> Bytes {
    input.map(|i| i.bytes.clone()).unwrap_or_default()
}
