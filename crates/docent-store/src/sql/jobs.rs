//! The durable job queue, shared by any number of workers. A claim is one
//! `UPDATE … RETURNING` whose sub-select picks the job ([`Dialect::CLAIM_JOB`]),
//! so no job is ever leased to two workers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Job, JobSpec, JobStatus, NewJob, Progress};
use docent_core::ids::{BotId, JobId, TenantId};
use docent_core::store::{JobStore, QueueDepth, StoreResult};

use super::{Dialect, Exec, Row, SqlStore, amount, json, query};

fn read_job<D: Dialect>(r: Row<'_, D>) -> StoreResult<Job> {
    Ok(Job {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        kind: r.text("kind")?,
        // A payload this build cannot read stays `None`; the worker fails it
        // with a clear error instead of the claim failing.
        spec: serde_json::from_str(&r.text("payload")?).ok(),
        status: r.name("status", JobStatus::parse)?,
        attempts: r.count("attempts")?,
        max_attempts: r.count("max_attempts")?,
        error: r.opt_text("error")?,
        progress: Progress {
            done: r.size("progress_done")?,
            total: r.size("progress_total")?,
        },
        run_at: r.time("run_at")?,
        created_at: r.time("created_at")?,
        started_at: r.opt_time("started_at")?,
        finished_at: r.opt_time("finished_at")?,
    })
}

/// Inserts a queued job; takes any executor so a caller can enqueue inside
/// its own transaction (a document and its ingest job commit together).
pub(crate) async fn insert_job<'e, D: Dialect>(
    on: impl Into<Exec<'e, D>>,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // An ingest job's bot is its document's, which the caller has written.
    let sql = "INSERT INTO jobs (id, tenant_id, kind, payload, status, max_attempts, run_at,
                                 created_at, bot_id)
               VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6, coalesce($7,
                   (SELECT bot_id FROM documents WHERE tenant_id = $2 AND id = $8)))";
    query::<D>("insert_job", sql)
        .bind((job.id, job.tenant_id, job.spec.kind(), json(&job.spec)))
        .bind((i64::from(job.max_attempts), now))
        .bind((job.spec.bot_id(), job.spec.document_id()))
        .run(on)
        .await
}

#[async_trait]
impl<D: Dialect> JobStore for SqlStore<D> {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        insert_job(self.pool(), job, Utc::now()).await
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        query::<D>("claim", D::CLAIM_JOB)
            .bind((worker, now, lease_until))
            .fetch_optional(self.pool(), read_job)
            .await
    }

    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET lease_until = $1
                   WHERE id = $2 AND lease_owner = $3 AND status = 'running'";
        query::<D>("heartbeat", sql)
            .bind((lease_until, job, worker))
            .changed_one(self.pool())
            .await
    }

    async fn set_progress(&self, job: JobId, progress: Progress) -> StoreResult<()> {
        let sql = "UPDATE jobs SET progress_done = $1, progress_total = $2 WHERE id = $3";
        query::<D>("set_progress", sql)
            .bind((amount(progress.done), amount(progress.total), job))
            .run(self.pool())
            .await
    }

    async fn complete(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let outcome = ("succeeded", None, None, Some(now));
        self.end_lease("complete", job, worker, outcome).await
    }

    async fn retry_later(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let outcome = ("queued", Some(error), Some(run_at), None);
        self.end_lease("retry_later", job, worker, outcome).await
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let outcome = ("failed", Some(error), None, Some(now));
        self.end_lease("fail", job, worker, outcome).await
    }

    async fn get_job(&self, tenant: TenantId, job: JobId) -> StoreResult<Job> {
        let sql = select!(jobs: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_job", sql)
            .bind((tenant, job))
            .fetch_one(self.pool(), read_job)
            .await
    }

    async fn save_payload(&self, job: JobId, worker: &str, spec: &JobSpec) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET payload = $1
                   WHERE id = $2 AND lease_owner = $3 AND status = 'running'";
        query::<D>("save_payload", sql)
            .bind((json(spec), job, worker))
            .changed_one(self.pool())
            .await
    }

    async fn hand_back(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET status = 'queued', run_at = $1, lease_owner = NULL,
                       lease_until = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
                   WHERE id = $2 AND lease_owner = $3 AND status = 'running'";
        query::<D>("hand_back", sql)
            .bind((now, job, worker))
            .changed_one(self.pool())
            .await
    }

    async fn active_jobs(&self, tenant: TenantId, bot: BotId) -> StoreResult<Vec<Job>> {
        let sql = select!(jobs: "WHERE tenant_id = $1 AND bot_id = $2
            AND status IN ('queued', 'running') ORDER BY created_at, id");
        query::<D>("active_jobs", sql)
            .bind((tenant, bot))
            .fetch_all(self.pool(), read_job)
            .await
    }

    async fn await_ingestion(&self, job: JobId, worker: &str) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET lease_owner = NULL, lease_until = NULL
                   WHERE id = $1 AND lease_owner = $2 AND status = 'running'";
        query::<D>("await_ingestion", sql)
            .bind((job, worker))
            .changed_one(self.pool())
            .await
    }

    async fn finish_awaiting(
        &self,
        tenant: Option<TenantId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let sql = "UPDATE jobs SET status = 'succeeded', finished_at = $1
                   WHERE status = 'running' AND lease_owner IS NULL AND kind = 'crawl'
                     AND ($2 IS NULL OR tenant_id = $2)
                     AND NOT EXISTS (SELECT 1 FROM documents d
                                      WHERE d.tenant_id = jobs.tenant_id AND d.bot_id = jobs.bot_id
                                        AND d.status IN ('queued', 'processing'))";
        query::<D>("finish_awaiting", sql)
            .bind((now, tenant))
            .changed(self.pool())
            .await
    }

    async fn queue_depth(&self) -> StoreResult<QueueDepth> {
        let sql = "SELECT count(CASE WHEN status = 'queued' THEN 1 END) AS queued,
                          count(CASE WHEN status = 'running' THEN 1 END) AS running
                   FROM jobs";
        query::<D>("queue_depth", sql)
            .fetch_one(self.pool(), |r| {
                Ok(QueueDepth {
                    queued: r.size("queued")?,
                    running: r.size("running")?,
                })
            })
            .await
    }
}

/// How a lease ends: the job's new status, its error, when it runs again
/// (unchanged if `None`) and when it finished.
type Outcome<'a> = (
    &'static str,
    Option<&'a str>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

impl<D: Dialect> SqlStore<D> {
    /// Ends the worker's lease on a running job; false when the lease was
    /// no longer the worker's (it lapsed and another worker took the job).
    async fn end_lease(
        &self,
        op: &'static str,
        job: JobId,
        worker: &str,
        (status, error, run_at, finished_at): Outcome<'_>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET status = $1, error = $2, run_at = coalesce($3, run_at),
                       finished_at = $4, lease_owner = NULL, lease_until = NULL
                   WHERE id = $5 AND lease_owner = $6 AND status = 'running'";
        query::<D>(op, sql)
            .bind((status, error, run_at, finished_at, job, worker))
            .changed_one(self.pool())
            .await
    }
}
