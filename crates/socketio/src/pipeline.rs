//! The events of one session that run concurrently: those a namespace handler declares
//! [`pipelined`](crate::NamespaceHandler::pipelined). They start in arrival order and finish in
//! any order; any other packet waits until every one of them has finished.

use std::{future::Future, panic::AssertUnwindSafe, pin::Pin};

use futures_util::{stream::FuturesUnordered, FutureExt as _, StreamExt as _};

/// A handler call in flight; `false` when it panicked.
type Call = Pin<Box<dyn Future<Output = bool>>>;

/// At most `max` handler calls of one session in flight.
pub(crate) struct Pipeline {
    /// Created on the first pipelined event: a connection that never sends one (most idle
    /// sockets) pays nothing for it.
    calls: Option<FuturesUnordered<Call>>,
    max: usize,
}

impl Pipeline {
    pub(crate) fn new(max: usize) -> Self {
        Self { calls: None, max: max.max(1) }
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.as_ref().map_or(0, FuturesUnordered::len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another call may start: while the pipeline is full, the session is not read.
    pub(crate) fn has_room(&self) -> bool {
        self.len() < self.max
    }

    /// Adds a call. It is first polled on the next [`next`](Self::next), after every call
    /// pushed before it, so calls start in the order they were pushed.
    pub(crate) fn push(&mut self, call: impl Future<Output = ()> + 'static) {
        let guarded = AssertUnwindSafe(call).catch_unwind().map(|outcome| outcome.is_ok());
        self.calls.get_or_insert_with(FuturesUnordered::new).push(Box::pin(guarded));
    }

    /// Polls every call; resolves with the outcome of the next one to finish (`None` when
    /// none is in flight).
    pub(crate) async fn next(&mut self) -> Option<bool> {
        match &mut self.calls {
            Some(calls) => calls.next().await,
            None => None,
        }
    }

    /// Waits for every call in flight; `false` if any of them panicked.
    pub(crate) async fn drain(&mut self) -> bool {
        let mut all_ok = true;
        while let Some(ok) = self.next().await {
            all_ok &= ok;
        }
        all_ok
    }
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, rc::Rc};

    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn calls_start_in_order_and_finish_in_any_order() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut pipeline = Pipeline::new(4);
        let (first_tx, first_rx) = oneshot::channel::<()>();
        let (second_tx, second_rx) = oneshot::channel::<()>();
        for (name, rx) in [("a", first_rx), ("b", second_rx)] {
            let log = Rc::clone(&log);
            pipeline.push(async move {
                log.borrow_mut().push(format!("start {name}"));
                let _ = rx.await;
                log.borrow_mut().push(format!("end {name}"));
            });
        }
        assert_eq!(pipeline.len(), 2);
        second_tx.send(()).ok();
        assert_eq!(pipeline.next().await, Some(true));
        assert_eq!(*log.borrow(), ["start a", "start b", "end b"]);
        first_tx.send(()).ok();
        assert!(pipeline.drain().await);
        assert_eq!(*log.borrow(), ["start a", "start b", "end b", "end a"]);
        assert!(pipeline.is_empty());
    }

    #[tokio::test]
    async fn bounds_the_calls_and_reports_a_panic() {
        let mut pipeline = Pipeline::new(2);
        assert!(pipeline.has_room());
        pipeline.push(async {});
        pipeline.push(async { panic!("handler bug") });
        assert!(!pipeline.has_room());
        assert!(!pipeline.drain().await, "the panic is reported");
        assert!(pipeline.has_room());
        assert_eq!(pipeline.next().await, None);
    }
}
