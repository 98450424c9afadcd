//! Scheduler overhead: one tick that finds nothing due among 10,000 configs, on Postgres, as
//! `p8sync serve` issues it (`claim_due_config`). Prints the time per tick (median, p99, max
//! over 2,000 ticks, from the client, round trip included) and the buffer pages the database
//! touches per tick.
//!
//! Run by scripts/bench-service.sh, which loads the configs into `P8_BENCH_PG_URL`; on its own
//! it loads them into a fresh database.

use p8sync::store::Store;
use p8sync::store::postgres::PostgresStore;
use p8sync::store::schedule::ScheduleStore;
use std::time::Duration;

async fn database() -> String {
    if let Ok(url) = std::env::var("P8_BENCH_PG_URL") {
        return url;
    }
    let (url, _) = p8sync_e2e::postgres_database().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(
        r#"INSERT INTO p8."SyncConfig" (id, name, provider, userid, enabled, sync_interval_hours,
               next_sync_at, provider_config)
           SELECT md5('config' || g)::uuid, 'config ' || g, 'local',
               '5c1b2f3e-0000-4000-8000-000000000001'::uuid, true, 24,
               now() + interval '1 day' + (g || ' seconds')::interval, '{}'::jsonb
           FROM generate_series(1, 10000) g"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    url
}

async fn pages_touched(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT (blks_hit + blks_read)::bigint FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(database());
    let store = rt.block_on(PostgresStore::connect(&url)).unwrap();
    let pool = rt.block_on(sqlx::PgPool::connect(&url)).unwrap();
    let lease = Duration::from_secs(60);
    let configs: i64 = rt
        .block_on(sqlx::query_scalar(r#"SELECT count(*) FROM p8."SyncConfig""#).fetch_one(&pool))
        .unwrap();
    assert_eq!(configs, 10_000, "the benchmark needs 10,000 configs");

    let n = 2_000;
    for _ in 0..100 {
        rt.block_on(store.claim_due_config("bench", lease)).unwrap();
    }
    // Database work per tick, from the server's own counters (they lag by up to 500 ms).
    std::thread::sleep(Duration::from_millis(1_100));
    let before = rt.block_on(pages_touched(&pool));
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = std::time::Instant::now();
        let claimed = rt.block_on(store.claim_due_config("bench", lease)).unwrap();
        times.push(start.elapsed());
        assert!(claimed.is_none(), "nothing is due");
    }
    std::thread::sleep(Duration::from_millis(1_100));
    let after = rt.block_on(pages_touched(&pool));
    times.sort();
    let at = |q: f64| times[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "tick with 10,000 configs, none due: median {:.2?}, p99 {:.2?}, max {:.2?}; {:.1} buffer pages per tick",
        at(0.5),
        at(0.99),
        times[n - 1],
        (after - before) as f64 / n as f64
    );
}
