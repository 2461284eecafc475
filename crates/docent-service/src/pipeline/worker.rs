//! The worker: a few slots, each leasing one job at a time from the queue,
//! heart-beating its lease while the job runs, and recording the outcome with
//! retries (exponential backoff with jitter) until `max_attempts`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use docent_core::domain::{Job, JobSpec, NewJob};
use docent_core::ids::JobId;
use tokio::sync::{Notify, watch};

use super::{Finished, JobContext, JobError, crawl, ingest};

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Visibility timeout of a lease; renewed every third of it.
    pub lease: Duration,
    /// First retry delay, doubled per attempt, capped at `max_backoff`.
    pub backoff_base: Duration,
    pub max_backoff: Duration,
    /// How often an idle slot looks for work (enqueues in this process wake
    /// it sooner).
    pub poll: Duration,
    /// Expiring uploads and recounting held usage.
    pub maintenance: super::MaintenanceSettings,
    /// After the stop signal, how long running jobs may go on; those still
    /// running then are handed back to the queue.
    pub grace: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease: Duration::from_secs(60),
            backoff_base: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
            poll: Duration::from_millis(500),
            maintenance: super::MaintenanceSettings {
                interval: Duration::from_secs(600),
                upload_expiry: Duration::from_secs(24 * 3600),
            },
            grace: Duration::from_secs(30),
        }
    }
}

pub struct Worker {
    ctx: JobContext,
    settings: WorkerSettings,
    id: String,
    wake: Arc<Notify>,
    /// The jobs the slots run now (kind and id), for the stopping log.
    running: Mutex<HashMap<JobId, String>>,
}

impl Worker {
    /// `wake` is notified after enqueues in this process, so idle slots start
    /// at once instead of at their next poll.
    pub fn new(ctx: JobContext, settings: WorkerSettings, wake: Arc<Notify>) -> Self {
        let id = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
        Self {
            ctx,
            settings,
            id,
            wake,
            running: Mutex::default(),
        }
    }

    /// Runs until `shutdown` resolves; then claims nothing more, lets running
    /// jobs go on for the grace period and hands back those still running.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (give_back_tx, give_back) = watch::channel(false);
        tracing::info!(worker = %self.id, slots = self.settings.concurrency, "worker started");
        self.requeue_stale().await;
        let this = Arc::new(self);
        let stopping = this.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            let running: Vec<String> = stopping.running().values().cloned().collect();
            if !running.is_empty() {
                tracing::info!(
                    jobs = ?running,
                    grace_secs = stopping.settings.grace.as_secs(),
                    "stopping: waiting for running jobs; those still running then go back to the queue"
                );
            }
            tokio::time::sleep(stopping.settings.grace).await;
            let _ = give_back_tx.send(true);
        });
        let upkeep = {
            let this = this.clone();
            let stop = stop_rx.clone();
            tokio::spawn(async move {
                super::maintenance::run(&this.ctx, &this.settings.maintenance, stop).await
            })
        };
        let slots: Vec<_> = (0..this.settings.concurrency)
            .map(|_| {
                let this = this.clone();
                let stop = stop_rx.clone();
                let give_back = give_back.clone();
                tokio::spawn(async move { this.slot(stop, give_back).await })
            })
            .collect();
        for slot in slots {
            let _ = slot.await;
        }
        let _ = upkeep.await;
        tracing::info!(worker = %this.id, "worker stopped");
    }

    /// Documents indexed by another embedder than the one configured now are
    /// queued again, so switching models re-embeds the knowledge base instead
    /// of leaving it unsearchable by vector. Only `ready` documents qualify, so
    /// several workers starting together queue each at most once or twice, and
    /// a repeated ingest is idempotent anyway.
    async fn requeue_stale(&self) {
        let embedder = self.ctx.embedder.id();
        let stale = match self.ctx.store.stale_documents(embedder, 100_000).await {
            Ok(stale) => stale,
            Err(error) => {
                return tracing::warn!(error = %crate::ErrorChain(&error), "could not look for documents to re-embed");
            }
        };
        if stale.is_empty() {
            return;
        }
        let mut queued = 0;
        for (tenant, doc) in stale {
            let job = NewJob {
                max_attempts: self.ctx.settings.job_max_attempts,
                ..NewJob::new(tenant, JobSpec::IngestDocument { document_id: doc })
            };
            match self.ctx.store.requeue_document(tenant, doc, &job).await {
                Ok(()) => queued += 1,
                Err(error) => {
                    tracing::warn!(error = %crate::ErrorChain(&error), document = %doc, "could not queue a re-embed")
                }
            }
        }
        tracing::info!(
            documents = queued,
            embedder,
            "queued documents embedded by another model"
        );
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, String>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[tracing::instrument(name = "jobs.slot", skip_all)]
    async fn slot(&self, mut stop: watch::Receiver<bool>, give_back: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let now = Utc::now();
            let lease_until =
                now + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
            match self.ctx.store.claim(&self.id, now, lease_until).await {
                Ok(Some(job)) => self.process(job, give_back.clone()).await,
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.poll) => {}
                        _ = self.wake.notified() => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::ErrorChain(&error), "could not claim a job; backing off");
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.poll * 4) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    #[tracing::instrument(
        name = "jobs.process",
        skip_all,
        fields(job_id = %job.id, tenant_id = %job.tenant_id, kind = %job.kind, attempt = job.attempts)
    )]
    async fn process(&self, job: Job, mut give_back: watch::Receiver<bool>) {
        // Every claim counts an attempt, a reclaim from a worker that died
        // too. A job past its last attempt killed its worker every time (or
        // the workers kept dying): it fails for good instead of running again.
        if job.attempts > job.max_attempts {
            let error = format!(
                "stopped: the worker processing it stopped {} times without finishing",
                job.max_attempts
            );
            tracing::warn!(%error, "job failed for good");
            self.on_final_failure(&job, &error).await;
            if let Err(error) = self
                .ctx
                .store
                .fail(job.id, &self.id, &error, Utc::now())
                .await
            {
                tracing::error!(error = %crate::ErrorChain(&error), "could not record the job's failure");
            }
            metrics::counter!("docent_jobs_finished_total", "kind" => job.kind.clone(), "outcome" => "failed")
                .increment(1);
            return;
        }
        let started = std::time::Instant::now();
        let heartbeat = self.heartbeat(&job);
        self.running()
            .insert(job.id, format!("{} {}", job.kind, job.id));
        let outcome = tokio::select! {
            outcome = self.dispatch(&job) => Some(outcome),
            () = heartbeat => Some(Err(JobError::Retry("lost the job's lease".into()))),
            _ = give_back.wait_for(|back| *back) => None,
        };
        self.running().remove(&job.id);
        let store = &self.ctx.store;
        let now = Utc::now();
        // Stopping, and the grace period is over: the job goes back to the
        // queue with its attempt not counted (dropping its future released
        // what it held), for this or another worker to run again.
        let Some(outcome) = outcome else {
            match store.hand_back(job.id, &self.id, now).await {
                Ok(_) => tracing::info!("stopping: job handed back to the queue"),
                Err(error) => {
                    tracing::warn!(error = %crate::ErrorChain(&error), "stopping: could not hand the job back; its lease will lapse")
                }
            }
            return;
        };
        let recorded = match &outcome {
            Ok(Finished::Done) => store.complete(job.id, &self.id, now).await,
            Ok(Finished::AwaitingIngestion) => {
                tracing::info!("crawl stored its pages; running until they are ingested");
                store.await_ingestion(job.id, &self.id).await
            }
            Err(JobError::Retry(error)) if job.attempts < job.max_attempts => {
                let delay = backoff(&self.settings, job.attempts);
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
                let run_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                store.retry_later(job.id, &self.id, error, run_at).await
            }
            Err(JobError::Retry(error) | JobError::Fatal(error)) => {
                tracing::warn!(%error, "job failed for good");
                self.on_final_failure(&job, error).await;
                store.fail(job.id, &self.id, error, now).await
            }
        };
        metrics::counter!("docent_jobs_finished_total", "kind" => job.kind.clone(),
            "outcome" => match &outcome { Ok(_) => "succeeded", Err(JobError::Retry(_)) => "retry", Err(JobError::Fatal(_)) => "failed" })
        .increment(1);
        // A waiting crawl ends with the last ingestion of its pages; the
        // crawl checks once too, in case they were all ingested first.
        self.finish_awaiting_crawls(job.tenant_id).await;
        metrics::histogram!("docent_job_duration_seconds", "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the job's lease had passed to another worker; outcome not recorded")
            }
            Err(error) => {
                tracing::error!(error = %crate::ErrorChain(&error), "could not record the job's outcome; its lease will lapse and it will run again")
            }
        }
    }

    async fn finish_awaiting_crawls(&self, tenant: docent_core::ids::TenantId) {
        match self
            .ctx
            .store
            .finish_awaiting(Some(tenant), Utc::now())
            .await
        {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "crawls done: their pages are ingested"),
            Err(error) => {
                tracing::warn!(error = %crate::ErrorChain(&error), "could not end waiting crawls; maintenance will")
            }
        }
    }

    async fn dispatch(&self, job: &Job) -> Result<Finished, JobError> {
        match &job.spec {
            Some(JobSpec::IngestDocument { document_id }) => {
                ingest::run(&self.ctx, job, *document_id)
                    .await
                    .map(|()| Finished::Done)
            }
            Some(JobSpec::Crawl { .. }) => crawl::run(&self.ctx, job, &self.id, &self.wake).await,
            Some(JobSpec::DeliverWebhook { delivery_id }) => {
                super::webhook::run(&self.ctx, job, *delivery_id)
                    .await
                    .map(|()| Finished::Done)
            }
            None => Err(JobError::Fatal(format!("unknown job kind `{}`", job.kind))),
        }
    }

    /// Keeps the lease alive; resolves only if the lease is lost.
    async fn heartbeat(&self, job: &Job) {
        let every = self.settings.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until =
                Utc::now() + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
            match self.ctx.store.heartbeat(job.id, &self.id, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(error = %crate::ErrorChain(&error), "heartbeat failed; retrying")
                }
            }
        }
    }

    /// A job that gives up leaves its document marked failed, with the
    /// reason, and tells the tenant's webhooks.
    async fn on_final_failure(&self, job: &Job, error: &str) {
        if let Some(JobSpec::IngestDocument { document_id }) = &job.spec {
            let store = &self.ctx.store;
            let marked = store
                .set_document_status(
                    job.tenant_id,
                    *document_id,
                    docent_core::domain::DocumentStatus::Failed,
                    Some(error),
                )
                .await;
            if let (Ok(()), Ok(doc)) = (
                marked,
                store.get_document(job.tenant_id, *document_id).await,
            ) {
                let data = crate::webhooks::document_data(&doc);
                crate::webhooks::emit(
                    store,
                    job.tenant_id,
                    docent_core::domain::WebhookEvent::DocumentFailed,
                    data,
                    self.ctx.webhook_max_attempts,
                )
                .await;
            }
        }
    }
}

/// `base × 2^(attempt−1)`, capped, then scaled by a random factor in [0.5, 1]
/// so that jobs failing together do not retry together.
fn backoff(settings: &WorkerSettings, attempt: u32) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(settings.max_backoff);
    exp.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let s = WorkerSettings {
            backoff_base: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..WorkerSettings::default()
        };
        for attempt in 1..=10 {
            let full = Duration::from_secs(2 * 2u64.pow(attempt - 1)).min(Duration::from_secs(60));
            let d = backoff(&s, attempt);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        assert!(backoff(&s, 1000) <= Duration::from_secs(60));
    }
}
