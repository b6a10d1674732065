//! Handler panics: user code runs inside `catch_unwind`; a panic becomes an
//! `INTERNAL` status whose message carries a correlation id that is also logged
//! with the panic message, and the entity's state stays as it was.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::component::info::ComponentInfo;
use crate::status::Status;

/// Run `f` (user code), turning a panic into `INTERNAL`.
pub(crate) fn guarded<T>(
    info: &'static ComponentInfo,
    method: usize,
    f: impl FnOnce() -> T,
) -> Result<T, Status> {
    // The state `f` sees is only borrowed and is discarded on panic, so nothing
    // observes a half-updated value: asserting unwind safety is sound here.
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| panic_status(info, method, panic))
}

/// The status for a panic of a handler of `info.methods[method]`; logs it.
pub(crate) fn panic_status(
    info: &'static ComponentInfo,
    method: usize,
    panic: Box<dyn Any + Send>,
) -> Status {
    let correlation_id = uuid::Uuid::new_v4();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    let method_name = info.methods.get(method).map(|m| m.name).unwrap_or("?");
    tracing::error!(
        %correlation_id,
        component = info.name,
        method = method_name,
        panic = %message,
        "handler panicked"
    );
    Status::internal(format!("internal error (correlation id {correlation_id})"))
}
