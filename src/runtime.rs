//! The library's own tokio runtime.
//!
//! Exported async methods spawn their work here and await the join handle, so (a) reqwest always
//! finds a reactor, whatever executor polls the foreign future (Kotlin coroutines, Swift tasks,
//! the RN bridge), and (b) a caller that cancels its coroutine or task only stops *waiting*: the
//! exchange itself runs to completion and its session is kept, never left half-done.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::{ByoaError, Error};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // One worker is plenty for a handful of HTTPS calls and keeps the footprint small.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dynamic-byoa")
            .enable_all()
            .build()
            .expect("the OS refused to start the dynamic-byoa runtime thread")
    })
}

/// Runs `work` on the library runtime and converts its error for the FFI.
pub(crate) async fn run<T, F>(work: F) -> Result<T, ByoaError>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    match runtime().spawn(work).await {
        Ok(result) => result.map_err(ByoaError::from),
        Err(join) => Err(ByoaError::Internal {
            detail: if join.is_panic() {
                "the operation panicked".into()
            } else {
                "the operation was cancelled".into()
            },
        }),
    }
}

/// Starts `work` on the library runtime without waiting for it (background refresh, revokes).
pub(crate) fn spawn<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(runtime().spawn(work));
}
