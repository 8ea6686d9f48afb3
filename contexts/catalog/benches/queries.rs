//! The catalog's own query rate, with no HTTP: the search mix of
//! `bench/search-mix.txt` and product reads by id, run through
//! `CatalogService` straight against a seeded catalog database.
//!
//!     BENCH_CATALOG_URL=sqlite://data/catalog.db cargo bench -p catalog --bench queries
//!
//! `bench/run catalog` runs it beside the HTTP figures. Options: DURATION
//! (seconds per kind, default 10), THREADS (default 2, like wrk's).

use catalog::images::ImageStore;
use catalog::search::Sort;
use catalog::service::{CatalogService, SearchRequest};
use kernel::clock::SystemClock;
use kernel::db::{ContextDatabase, DatabaseSettings, Location};
use kernel::events::Outbox;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn parse_request(line: &str) -> SearchRequest {
    let mut request = SearchRequest {
        text: None,
        category: None,
        min_price: None,
        max_price: None,
        in_stock: false,
        sort: None,
        after: None,
        limit: 20,
    };
    for pair in line.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.replace('+', " ");
        match key {
            "q" => request.text = Some(value),
            "category" => request.category = Some(value),
            "min_price" => request.min_price = value.parse().ok(),
            "max_price" => request.max_price = value.parse().ok(),
            "in_stock" => request.in_stock = value == "true",
            "sort" => request.sort = Sort::parse(&value),
            _ => {}
        }
    }
    if request.sort.is_none() {
        request.sort = Some(if request.text.is_some() { Sort::Relevance } else { Sort::Newest });
    }
    request
}

fn measure(label: &str, threads: usize, duration: Duration, work: impl Fn(usize) + Sync) {
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let work = &work;
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    let mut n = thread;
                    while started.elapsed() < duration {
                        let at = Instant::now();
                        work(n);
                        latencies.push(at.elapsed());
                        n += threads;
                    }
                    latencies
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "{label:<34}{:>10.0} req/s   p50 {:>6.2}ms   p99 {:>6.2}ms",
        latencies.len() as f64 / elapsed,
        pick(0.5),
        pick(0.99)
    );
}

fn main() {
    let url = std::env::var("BENCH_CATALOG_URL").unwrap_or_else(|_| "sqlite://data/catalog.db".to_owned());
    let duration = Duration::from_secs(std::env::var("DURATION").ok().and_then(|v| v.parse().ok()).unwrap_or(10));
    let threads = std::env::var("THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let db = ContextDatabase::open(DatabaseSettings {
        context: catalog::CONTEXT,
        location: Location::parse(&url).expect("BENCH_CATALOG_URL"),
        role: None,
        max_connections: 8,
        acquire_timeout: Duration::from_secs(10),
    })
    .expect("open catalog database");
    let clock = Arc::new(SystemClock);
    let service = CatalogService::new(
        db,
        clock.clone(),
        Outbox::new(catalog::CONTEXT, clock),
        ImageStore::new(std::env::temp_dir()),
    );
    let mix: Vec<SearchRequest> = std::fs::read_to_string("bench/search-mix.txt")
        .or_else(|_| std::fs::read_to_string("../../bench/search-mix.txt"))
        .expect("bench/search-mix.txt")
        .lines()
        .filter(|line| !line.is_empty())
        .map(parse_request)
        .collect();
    let ids: Vec<kernel::ProductId> = service
        .search(SearchRequest { limit: 100, ..parse_request("sort=newest") })
        .expect("ids")
        .items
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(!ids.is_empty(), "the catalog is empty: seed it first");
    if std::env::var("PER_QUERY").is_ok() {
        let lines: Vec<&str> =
            include_str!("../../../bench/search-mix.txt").lines().filter(|l| !l.is_empty()).collect();
        for (line, request) in lines.iter().zip(&mix) {
            let started = Instant::now();
            for _ in 0..10 {
                service.search(request.clone()).expect("search");
            }
            println!("{:>8.2} ms  {line}", started.elapsed().as_secs_f64() * 100.0);
        }
    }
    measure("search mix (direct, no HTTP)", threads, duration, |n| {
        service.search(mix[n % mix.len()].clone()).expect("search");
    });
    measure("product by id (direct, no HTTP)", threads, duration, |n| {
        service.product(ids[n % ids.len()]).expect("product");
    });
}
