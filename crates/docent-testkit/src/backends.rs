//! The scale-out backends tests run against (PostgreSQL, Redis, S3), found
//! through `DOCENT_TEST_*` variables that `scripts/backends.sh` writes.

/// The URL in `var`, or `None` (the caller skips, saying so) when it is not
/// set, unless `DOCENT_REQUIRE_BACKENDS` is set (as in CI), which makes a
/// missing backend a failure instead of a skip.
pub fn backend_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var("DOCENT_REQUIRE_BACKENDS").is_err(),
                "{var} is not set but DOCENT_REQUIRE_BACKENDS is"
            );
            eprintln!("skipped: {var} is not set");
            None
        }
    }
}

/// A new, empty database on the PostgreSQL server at `server`, named
/// `{prefix}_{unique}`; its URL.
pub async fn fresh_postgres_database(server: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    postgres_database(server, &name, true).await
}

/// The database `name` on the PostgreSQL server at `server`, created when
/// missing (emptied first when `fresh`); its URL.
pub async fn postgres_database(server: &str, name: &str, fresh: bool) -> String {
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name `{name}`"
    );
    let admin = sqlx::PgPool::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await
        .unwrap();
    if exists.is_some() && fresh {
        let drop = format!("DROP DATABASE {name} WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await
            .unwrap();
    }
    if exists.is_none() || fresh {
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(name);
    url.to_string()
}
