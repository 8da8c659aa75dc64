//! Background workers, owned and watched. Each runs until told to stop (a `watch` flag); one
//! that panics or returns is logged with its cause and started again after a back-off that
//! doubles while it keeps failing, and `/readyz` names it while it is down. `stop` tells
//! them all and waits for each to finish what it has in hand.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use orderpay_http::WorkerStatus;

/// The first wait before a restart, and the longest.
const FIRST_RESTART: Duration = Duration::from_secs(1);
const LONGEST_RESTART: Duration = Duration::from_secs(60);
/// A worker that ran this long before it failed starts again after the first wait.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// One run of a worker: until the stop flag turns true, or it fails.
type Running = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What a worker is: called with the stop flag, it runs until the flag turns true.
type Run = Arc<dyn Fn(watch::Receiver<bool>) -> Running + Send + Sync>;

/// The workers a process runs.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    status: WorkerStatus,
}

impl Workers {
    pub fn new(status: WorkerStatus) -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
            status,
        }
    }

    /// Starts `run` as the worker `name`, watched.
    pub fn start<F, Fut>(&mut self, name: &'static str, run: F)
    where
        F: Fn(watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let run: Run = Arc::new(move |stop| Box::pin(run(stop)));
        self.status.running(name);
        let task = tokio::spawn(supervise(
            name,
            run,
            self.status.clone(),
            self.stop.subscribe(),
        ));
        self.tasks.push((name, task));
    }

    /// Tells every worker to stop and waits for each.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (name, task) in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(worker = name, error = %e, "a worker's supervisor failed");
            }
        }
    }
}

/// Runs `run` until the stop flag, starting it again whenever it ends otherwise.
async fn supervise(
    name: &'static str,
    run: Run,
    status: WorkerStatus,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = FIRST_RESTART;
    loop {
        let started = tokio::time::Instant::now();
        // A task of its own: a panic ends the task, not the supervisor.
        let outcome = tokio::spawn(run(stop.clone())).await;
        if *stop.borrow() {
            return;
        }
        let cause = match outcome {
            Ok(Ok(())) => "it returned without being asked to stop".to_owned(),
            Ok(Err(e)) => e,
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                format!("it panicked: {what}")
            }
            Err(e) => e.to_string(),
        };
        if started.elapsed() >= HEALTHY_RUN {
            wait = FIRST_RESTART;
        }
        tracing::error!(
            worker = name,
            cause = %cause,
            restart_in_ms = wait.as_millis() as u64,
            "a worker stopped; starting it again"
        );
        status.down(name);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = (wait * 2).min(LONGEST_RESTART);
        status.running(name);
    }
}

/// A worker that runs `job` every `every` (the first time after `first`), until stopped. A
/// job's failure is logged by the job; the worker goes on.
pub fn every<F, Fut>(
    first: Duration,
    every: Duration,
    job: F,
) -> impl Fn(watch::Receiver<bool>) -> Running + Send + Sync + 'static
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    move |mut stop: watch::Receiver<bool>| {
        let job = job.clone();
        Box::pin(async move {
            let mut next = tokio::time::Instant::now() + first;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(next) => {}
                    _ = stop.changed() => return Ok(()),
                }
                if *stop.borrow() {
                    return Ok(());
                }
                job().await;
                next = tokio::time::Instant::now() + every;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Waits up to 5 s for `condition`.
    async fn until(condition: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if condition() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        condition()
    }

    #[tokio::test]
    async fn a_worker_that_panics_is_restarted_and_shown_down_meanwhile() {
        let status = WorkerStatus::default();
        let mut workers = Workers::new(status.clone());
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        workers.start("flaky", move |mut stop: watch::Receiver<bool>| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    // Down for a moment, so the status can be seen saying so.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    panic!("the first run breaks");
                }
                let _ = stop.changed().await;
                Ok(())
            }
        });
        assert_eq!(status.down_now(), Vec::<&str>::new());
        assert!(
            until(|| status.down_now() == ["flaky"]).await,
            "shown down after its panic"
        );
        assert!(
            until(|| runs.load(Ordering::SeqCst) == 2 && status.down_now().is_empty()).await,
            "restarted, and shown running again"
        );
        workers.stop().await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "stopped for good: not restarted"
        );
    }

    #[tokio::test]
    async fn a_worker_that_returns_or_fails_is_restarted_and_stop_ends_them() {
        let status = WorkerStatus::default();
        let mut workers = Workers::new(status.clone());
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        workers.start("quitter", move |mut stop: watch::Receiver<bool>| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 => Err("its store is gone".to_owned()),
                    _ => {
                        let _ = stop.changed().await;
                        Ok(())
                    }
                }
            }
        });
        assert!(until(|| runs.load(Ordering::SeqCst) == 2).await);
        workers.stop().await;
    }
}
