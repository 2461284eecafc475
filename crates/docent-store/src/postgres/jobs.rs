//! The durable queue on PostgreSQL, shared by any number of workers. A claim
//! is one `UPDATE … RETURNING` whose sub-select picks a job and locks it with
//! `FOR UPDATE SKIP LOCKED`: a job being claimed by one worker is invisible
//! to the others' claims, and a job claimed a moment ago fails their re-check,
//! so no job is ever leased to two workers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Job, JobStatus, NewJob, Progress};
use docent_core::ids::{JobId, TenantId};
use docent_core::store::{JobStore, QueueDepth, StoreError, StoreResult};

use super::{PgStore, backend, map_err, parse_id};

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

macro_rules! job_columns {
    () => {
        "id, tenant_id, kind, payload, status, attempts, max_attempts, error, progress_done, \
         progress_total, run_at, created_at, started_at, finished_at"
    };
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
pub(crate) async fn insert_job<'e, E: sqlx::PgExecutor<'e>>(
    exec: E,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, payload, status, max_attempts, run_at, created_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6)",
    )
    .bind(job.id.to_string())
    .bind(job.tenant_id.to_string())
    .bind(job.spec.kind())
    .bind(serde_json::to_string(&job.spec).map_err(backend)?)
    .bind(i64::from(job.max_attempts))
    .bind(now)
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        insert_job(self.pool(), job, Utc::now()).await
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        // Runnable: queued and due, or running with a lapsed lease (its worker
        // died). Fairness: among tenants with runnable work, the one with the
        // fewest live leases wins, then the one whose last claim is oldest
        // (never claimed first), so one tenant's thousands of jobs cannot
        // starve another's single upload. Within a tenant: oldest first.
        //
        // The tenant is chosen from this statement's snapshot without locks
        // (aggregates cannot be locked); the job is then locked with SKIP
        // LOCKED, preferring that tenant's jobs but falling back to any
        // runnable job when concurrent claimers hold all of the tenant's, so
        // a worker never comes back empty-handed while unlocked work exists.
        // A job another worker claimed and committed after our snapshot is
        // re-checked against the WHERE clause when locked (READ COMMITTED)
        // and skipped, since it is no longer runnable.
        let row = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1,
                 lease_until = $3, claimed_at = $2, started_at = coalesce(started_at, $2)
             WHERE id = (
                 WITH next_tenant AS (
                     SELECT r.tenant_id FROM jobs r
                     WHERE (r.status = 'queued' AND r.run_at <= $2)
                        OR (r.status = 'running' AND r.lease_until < $2)
                     GROUP BY r.tenant_id
                     ORDER BY
                         (SELECT count(*) FROM jobs b
                           WHERE b.tenant_id = r.tenant_id AND b.status = 'running'
                             AND b.lease_until >= $2),
                         (SELECT max(c.claimed_at) FROM jobs c
                           WHERE c.tenant_id = r.tenant_id) NULLS FIRST,
                         min(r.run_at),
                         r.tenant_id
                     LIMIT 1
                 )
                 SELECT j.id FROM jobs j
                 WHERE (j.status = 'queued' AND j.run_at <= $2)
                    OR (j.status = 'running' AND j.lease_until < $2)
                 ORDER BY j.tenant_id IS DISTINCT FROM (SELECT tenant_id FROM next_tenant),
                          j.run_at, j.id
                 LIMIT 1
                 FOR UPDATE OF j SKIP LOCKED
             )
             RETURNING ",
            job_columns!()
        ))
        .bind(worker)
        .bind(now)
        .bind(lease_until)
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
        .bind(lease_until)
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_progress(&self, job: JobId, progress: Progress) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET progress_done = $1, progress_total = $2 WHERE id = $3")
            .bind(count(progress.done))
            .bind(count(progress.total))
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
        .bind(now)
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
            "UPDATE jobs SET status = 'queued', error = $1, run_at = $2,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(error)
        .bind(run_at)
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
            "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(error)
        .bind(now)
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
            "SELECT count(*) FILTER (WHERE status = 'queued'),
                    count(*) FILTER (WHERE status = 'running')
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

/// Progress counts as BIGINT (saturating; a count past `i64::MAX` is absurd).
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
