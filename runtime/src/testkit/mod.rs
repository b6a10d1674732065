//! Testing services: unit test kits for each component kind, and a harness
//! that runs the whole service over real sockets.
//!
//! # Unit test kits
//!
//! The generator emits a kit beside each component with user code —
//! `<Name>EntityTestKit`, `<Name>ActionTestKit`, `<Name>ViewTestKit`,
//! `<Name>WorkflowTestKit` — with one typed method per rpc. A kit runs the
//! handlers the way the runtime does, with no service, storage or network:
//!
//! - **value entity** ([`ValueEntityKit`]): keeps the state across calls;
//!   each result has the reply or the error, whether the state was updated
//!   or deleted, the forward, the side effects and the timers;
//! - **event-sourced entity** ([`EventSourcedKit`]): the events emitted,
//!   typed and in order (`result.next_event::<ItemAdded>()`), folded into
//!   the state through the implementation's `apply_*`; snapshots are taken
//!   at the entity's interval, and `kit.recovered_state()` is what a
//!   restart would rebuild from them;
//! - **action** ([`ActionKit`]): canned replies for the component calls it
//!   makes (`kit.when(CustomerServiceClient::get_customer).reply(..)`),
//!   the messages it published with their CloudEvents attributes, its
//!   timers;
//! - **view** ([`ViewKit`]) with `transform_updates`: feed it updates and
//!   deletes, read the rows;
//! - **workflow** ([`WorkflowKit`]): commands, then steps run one at a
//!   time, with the runtime's recovery and the workflow timeout.
//!
//! Every kit dereferences to a [`KitEnv`]: a [`ManualClock`](crate::ManualClock)
//! (`kit.advance(..)` returns the timers due by then), the metadata, caller
//! and token claims the calls carry.
//!
//! ```no_run
//! # mod shopping { pub mod cart { pub mod api {
//! #   pub struct ShoppingCartEntityTestKit<T>(T);
//! #   impl<T> ShoppingCartEntityTestKit<T> { pub fn of(t: T) -> Self { Self(t) }
//! #     pub fn add_item(&mut self, _: AddLineItem) -> R { R } }
//! #   #[derive(Default)] pub struct AddLineItem { pub cart_id: String, pub quantity: i32 }
//! #   pub struct R; impl R { pub fn next_event<T: Default>(&mut self) -> T { T::default() } }
//! #   #[derive(Default)] pub struct ItemAdded { pub quantity: i32 }
//! # } } }
//! # struct ShoppingCart;
//! use shopping::cart::api::{AddLineItem, ItemAdded, ShoppingCartEntityTestKit};
//!
//! let mut kit = ShoppingCartEntityTestKit::of(ShoppingCart);
//! let mut result = kit.add_item(AddLineItem { cart_id: "c1".into(), quantity: 2, ..Default::default() });
//! assert_eq!(result.next_event::<ItemAdded>().quantity, 2);
//! ```
//!
//! # The service harness
//!
//! [`TestService`] starts the real service in this process on an ephemeral
//! port, with a temporary SQLite database (or a given storage URL) and
//! in-memory topics: call it with the generated clients' calls over gRPC
//! (`service.call(CustomerServiceClient::create(..))`) or over HTTP/JSON,
//! push messages into the topics it subscribes to and read what it
//! publishes, and wait for views with [`eventually`] instead of sleeping.

mod action;
mod env;
mod event_sourced;
mod eventually;
mod grpc;
mod http;
mod outbound;
pub(crate) mod outcome;
mod service;
mod value;
mod view;
mod workflow;

pub use action::{ActionKit, ActionResult, Canned};
pub use env::{KitEnv, StartedTimer, TimerChange};
pub use event_sourced::{EventOf, EventSourcedKit, EventSourcedResult};
pub use eventually::eventually;
pub use grpc::ReplyStream;
pub use http::HttpReply;
pub use outbound::{MadeCall, Published};
pub use service::{TestService, TestServiceBuilder};
pub use value::{ValueEntityKit, ValueEntityResult};
pub use view::{ViewKit, ViewResult};
pub use workflow::{WorkflowKit, WorkflowResult};
