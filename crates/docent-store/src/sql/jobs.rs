//! The durable job queue, shared by any number of workers. A claim is one
//! `UPDATE … RETURNING` whose sub-select picks the job ([`Dialect::CLAIM_JOB`]),
//! so no job is ever leased to two workers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Job, JobStatus, NewJob, Progress};
use docent_core::ids::{JobId, TenantId};
use docent_core::store::{JobStore, QueueDepth, StoreError, StoreResult};

use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{Column, Dialect, SqlStore, Ts, Vector, amount, backend, map_err, parse_id};

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    kind: String,
    payload: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    error: Option<String>,
    progress_done: i64,
    progress_total: i64,
    run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Self> {
        Ok(Job {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            kind: r.kind,
            // A payload this build cannot read stays `None`; the worker fails it
            // with a clear error instead of the claim failing.
            spec: serde_json::from_str(&r.payload).ok(),
            status: JobStatus::parse(&r.status).ok_or_else(|| backend("bad job status"))?,
            attempts: r.attempts as u32,
            max_attempts: r.max_attempts as u32,
            error: r.error,
            progress: Progress {
                done: r.progress_done as u64,
                total: r.progress_total as u64,
            },
            run_at: r.run_at,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// Inserts a queued job; takes any executor so a caller can enqueue inside
/// its own transaction (a document and its ingest job commit together).
pub(crate) async fn insert_job<'e, D, E>(exec: E, job: &NewJob, now: DateTime<Utc>) -> StoreResult<()>
where
    D: Dialect,
    E: Executor<'e, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    String: Column<D>,
    i64: Column<D>,
    Ts: Column<D>,
{
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, payload, status, max_attempts, run_at, created_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6)",
    )
    .bind(job.id.to_string())
    .bind(job.tenant_id.to_string())
    .bind(job.spec.kind())
    .bind(serde_json::to_string(&job.spec).map_err(backend)?)
    .bind(i64::from(job.max_attempts))
    .bind(Ts(now))
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl<D> JobStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        insert_job(self.pool(), job, Utc::now()).await
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let row = sqlx::query_as::<_, JobRow>(D::CLAIM_JOB)
        .bind(worker)
        .bind(Ts(now))
        .bind(Ts(lease_until))
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        row.map(Job::try_from).transpose()
    }

    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1
             WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(Ts(lease_until))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn set_progress(&self, job: JobId, progress: Progress) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET progress_done = $1, progress_total = $2 WHERE id = $3")
            .bind(amount(progress.done))
            .bind(amount(progress.total))
            .bind(job.to_string())
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn complete(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', error = NULL, finished_at = $1,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(Ts(now))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn retry_later(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', error = $1, run_at = $2,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(error)
        .bind(Ts(run_at))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(error)
        .bind(Ts(now))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn get_job(&self, tenant: TenantId, job: JobId) -> StoreResult<Job> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(job.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn queue_depth(&self) -> StoreResult<QueueDepth> {
        let (queued, running): (i64, i64) = sqlx::query_as(
            "SELECT count(CASE WHEN status = 'queued' THEN 1 END),
                    count(CASE WHEN status = 'running' THEN 1 END)
             FROM jobs",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        Ok(QueueDepth {
            queued: queued.max(0) as u64,
            running: running.max(0) as u64,
        })
    }
}
