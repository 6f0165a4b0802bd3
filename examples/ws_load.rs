//! Subscription fan-out load tool.
//!
//! Opens N graphql-transport-ws subscriber sockets on one tenant, fires M
//! mutations one after another, and prints the fan-out latency (from the
//! start of the mutation's HTTP request to the event's arrival at each
//! subscriber) as p50/p99/max, with the server's resident memory.
//!
//! ```text
//! cargo build --release --bin crm-server --example ws_load
//! target/release/examples/ws_load --spawn target/release/crm-server --subscribers 1000 --mutations 50
//! target/release/examples/ws_load --url http://127.0.0.1:8080 --pid <server pid> --subscribers 1000
//! ```
//! `--spawn` starts the server on a throwaway SQLite database (or on
//! `--database-url`) and stops it at the end. `--stalled N` adds N sockets
//! that subscribe to heavy events and never read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser)]
struct Args {
    /// Server to load (its /graphql is used).
    #[arg(long)]
    url: Option<String>,
    /// The server's process id, to read its memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Start this server binary instead of using --url.
    #[arg(long)]
    spawn: Option<String>,
    /// With --spawn: the database to use (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    #[arg(long, default_value_t = 50)]
    mutations: usize,
    /// Pause between mutations.
    #[arg(long, default_value_t = 100)]
    pause_ms: u64,
    /// Subscribers also resolve the opportunity (one database read each).
    #[arg(long)]
    resolve: bool,
    /// Extra sockets that subscribe to heavy events and never read: they
    /// must not slow the mutations or the other subscribers.
    #[arg(long, default_value_t = 0)]
    stalled: usize,
}

fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn gql(client: &reqwest::Client, url: &str, token: Option<&str>, q: &str, v: Value) -> Value {
    let mut req = client
        .post(url)
        .json(&json!({ "query": q, "variables": v }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut child = None;
    let _data_dir;
    let (base, pid) = match (&args.spawn, &args.url) {
        (Some(bin), _) => {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = std::process::Command::new(bin);
            cmd.arg("serve")
                .env("DATA_DIR", dir.path())
                .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null());
            if let Some(db) = &args.database_url {
                cmd.env("DATABASE_URL", db);
            }
            let c = cmd.spawn().expect("start the server");
            let pid = c.id();
            child = Some(c);
            _data_dir = Some(dir);
            (format!("http://127.0.0.1:{port}"), Some(pid))
        }
        (None, Some(url)) => {
            _data_dir = None;
            (url.trim_end_matches('/').to_string(), args.pid)
        }
        (None, None) => panic!("give --spawn <server binary> or --url <server>"),
    };
    let http = reqwest::Client::new();
    let graphql = format!("{base}/graphql");
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stamp = std::process::id();
    let signed = gql(
        &http,
        &graphql,
        None,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        json!({ "i": { "tenantName": format!("Load {stamp}"), "name": "Load", "email": format!("load{stamp}@example.com"), "password": "correct horse battery" } }),
    )
    .await;
    let token = signed["signUp"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let p = gql(
        &http,
        &graphql,
        Some(&token),
        "{ pipelines { stages { id } } }",
        json!({}),
    )
    .await;
    let stage = p["pipelines"][0]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let baseline = pid.and_then(rss_kib);

    // subscribers
    let query = if args.resolve {
        "subscription { opportunityEvents { kind opportunityId opportunity { title status } } }"
    } else {
        "subscription { opportunityEvents { kind opportunityId } }"
    };
    let ws_url = graphql.replacen("http://", "ws://", 1);
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    let started_connecting = Instant::now();
    let mut tasks = Vec::with_capacity(args.subscribers);
    for _ in 0..args.subscribers {
        let (ws_url, token, ready, connecting) = (
            ws_url.clone(),
            token.clone(),
            ready.clone(),
            connecting.clone(),
        );
        let expected = args.mutations;
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let mut req = ws_url.into_client_request().unwrap();
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
            let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
            ws.send(Message::text(init.to_string())).await.unwrap();
            let _ack = ws.next().await;
            let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
            ws.send(Message::text(sub.to_string())).await.unwrap();
            drop(permit);
            ready.add_permits(1);
            let mut arrivals = Vec::with_capacity(expected);
            while arrivals.len() < expected {
                match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => arrivals.push(Instant::now()),
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            let _ = ws.close(None).await;
            arrivals
        }));
    }
    let _ = ready.acquire_many(args.subscribers as u32).await.unwrap();
    let connect_time = started_connecting.elapsed();

    // stalled sockets: 20 operations each selecting the title 14 times,
    // and nobody reading
    let heavy: String = (0..14)
        .map(|i| format!("t{i}: opportunity {{ title }} "))
        .collect();
    let heavy = format!("subscription {{ opportunityEvents {{ {heavy} }} }}");
    let mut stalled = Vec::new();
    for _ in 0..args.stalled {
        let mut req = ws_url.clone().into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("connect");
        let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
        ws.send(Message::text(init.to_string())).await.unwrap();
        let _ack = ws.next().await;
        for i in 0..20 {
            let sub = json!({ "id": format!("h{i}"), "type": "subscribe", "payload": { "query": heavy } });
            ws.send(Message::text(sub.to_string())).await.unwrap();
        }
        stalled.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_subscribers = pid.and_then(rss_kib);

    // mutations, one at a time
    let mut starts = Vec::with_capacity(args.mutations);
    let mut mutation_times = Vec::with_capacity(args.mutations);
    for i in 0..args.mutations {
        let t = Instant::now();
        starts.push(t);
        gql(
            &http,
            &graphql,
            Some(&token),
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            json!({ "i": { "title": format!("Load {i}"), "stageId": stage, "potential": "10" } }),
        )
        .await;
        mutation_times.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
    }
    let mut latencies = Vec::with_capacity(args.subscribers * args.mutations);
    let mut missing = 0usize;
    for t in tasks {
        let arrivals = t.await.unwrap_or_default();
        missing += args.mutations - arrivals.len();
        for (k, at) in arrivals.iter().enumerate() {
            latencies.push(at.saturating_duration_since(starts[k]));
        }
    }
    let after = pid.and_then(rss_kib);
    // what became of the stalled sockets: read them out now
    let mut dropped = 0;
    for mut ws in stalled {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(f))))) => {
                    dropped += usize::from(u16::from(f.code) == 1013);
                    break;
                }
                Ok(Some(Ok(_))) => continue,
                _ => break,
            }
        }
    }
    latencies.sort();
    mutation_times.sort();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("subscribers: {}", args.subscribers);
    println!("mutations: {} (every {} ms)", args.mutations, args.pause_ms);
    println!("subscriptions resolve the opportunity: {}", args.resolve);
    if args.stalled > 0 {
        println!(
            "stalled sockets (never read): {}, closed by the server with 1013: {dropped}",
            args.stalled
        );
    }
    println!(
        "connect + init + subscribe, all sockets: {:.1} s",
        connect_time.as_secs_f64()
    );
    println!(
        "deliveries: {} of {} (missing {missing})",
        latencies.len(),
        args.subscribers * args.mutations
    );
    println!(
        "fan-out latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "mutation round trip: p50 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&mutation_times, 0.50)),
        ms(percentile(&mutation_times, 0.99))
    );
    if let (Some((b, _)), Some((w, _)), Some((a, hwm))) = (baseline, with_subscribers, after) {
        println!(
            "server RSS: {:.1} MiB before sockets, {:.1} MiB with {} subscribers ({:.1} KiB each), {:.1} MiB after the run, peak {:.1} MiB",
            b as f64 / 1024.0,
            w as f64 / 1024.0,
            args.subscribers,
            (w.saturating_sub(b)) as f64 / args.subscribers as f64,
            a as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
}
