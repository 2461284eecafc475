//! The durable queue on SQLite. A claim is one `UPDATE … RETURNING` whose
//! sub-select picks the job, so two workers can never lease the same job:
//! SQLite runs one writer at a time and the second sees the first's lease.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Job, JobStatus, NewJob, Progress};
use docent_core::ids::{JobId, TenantId};
use docent_core::store::{JobStore, QueueDepth, StoreResult};

use super::{SqliteStore, backend, map_err, parse_id, parse_opt_ts, parse_ts, ts};

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
    run_at: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

macro_rules! job_columns {
    () => {
        "id, tenant_id, kind, payload, status, attempts, max_attempts, error, progress_done, \
         progress_total, run_at, created_at, started_at, finished_at"
    };
}

impl TryFrom<JobRow> for Job {
    type Error = docent_core::store::StoreError;
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
            run_at: parse_ts(&r.run_at)?,
            created_at: parse_ts(&r.created_at)?,
            started_at: parse_opt_ts(r.started_at)?,
            finished_at: parse_opt_ts(r.finished_at)?,
        })
    }
}

pub(crate) async fn insert_job<'e, E: sqlx::SqliteExecutor<'e>>(
    exec: E,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, payload, status, max_attempts, run_at, created_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
    )
    .bind(job.id.to_string())
    .bind(job.tenant_id.to_string())
    .bind(job.spec.kind())
    .bind(serde_json::to_string(&job.spec).map_err(backend)?)
    .bind(job.max_attempts as i64)
    .bind(ts(now))
    .bind(ts(now))
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        insert_job(self.pool(), job, Utc::now()).await
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        // Fairness: among tenants with runnable work, the one with the fewest
        // live leases wins, then the one whose last claim is oldest (never
        // claimed first), so one tenant's thousands of jobs cannot starve
        // another's single upload. Within a tenant: oldest first.
        let row = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?1,
                 lease_until = ?3, claimed_at = ?2, started_at = coalesce(started_at, ?2)
             WHERE id = (
                 WITH runnable AS (
                     SELECT id, tenant_id, run_at FROM jobs
                     WHERE (status = 'queued' AND run_at <= ?2)
                        OR (status = 'running' AND lease_until < ?2)
                 ),
                 next_tenant AS (
                     SELECT r.tenant_id FROM runnable r
                     GROUP BY r.tenant_id
                     ORDER BY
                         (SELECT count(*) FROM jobs b
                           WHERE b.tenant_id = r.tenant_id AND b.status = 'running' AND b.lease_until >= ?2),
                         (SELECT max(claimed_at) FROM jobs c WHERE c.tenant_id = r.tenant_id) NULLS FIRST,
                         min(r.run_at)
                     LIMIT 1
                 )
                 SELECT id FROM runnable WHERE tenant_id = (SELECT tenant_id FROM next_tenant)
                 ORDER BY run_at, id LIMIT 1
             )
             RETURNING ", job_columns!()
        ))
        .bind(worker)
        .bind(ts(now))
        .bind(ts(lease_until))
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
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(ts(lease_until))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_progress(&self, job: JobId, progress: Progress) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET progress_done = ?, progress_total = ? WHERE id = ?")
            .bind(progress.done as i64)
            .bind(progress.total as i64)
            .bind(job.to_string())
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn complete(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', error = NULL, finished_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(ts(now))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_later(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', error = ?, run_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(error)
        .bind(ts(run_at))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(error)
        .bind(ts(now))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_job(&self, tenant: TenantId, job: JobId) -> StoreResult<Job> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE tenant_id = ? AND id = ?"
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
            "SELECT coalesce(sum(status = 'queued'), 0), coalesce(sum(status = 'running'), 0) FROM jobs",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        Ok(QueueDepth {
            queued: queued as u64,
            running: running as u64,
        })
    }
}
