//! A local webhook receiver for the tests: actix-web on port 0, recording
//! every request and answering from a script.
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver answers: a status, after a delay.
#[derive(Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    /// Redirects to the metadata address instead.
    pub redirect: bool,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    count: tokio::sync::watch::Receiver<usize>,
    /// Replies for the next requests, in order; then `default`.
    pub script: Arc<Mutex<Vec<Reply>>>,
    _server: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(default: Reply) -> Receiver {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<Vec<Reply>>> = Arc::default();
        let (tx, count) = tokio::sync::watch::channel(0usize);
        let tx = Arc::new(tx);
        let (g, sc) = (got.clone(), script.clone());
        let server = HttpServer::new(move || {
            let (g, sc, tx) = (g.clone(), sc.clone(), tx.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, sc, tx) = (g.clone(), sc.clone(), tx.clone());
                async move {
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let reply = {
                        let mut s = sc.lock().unwrap();
                        if s.is_empty() { default } else { s.remove(0) }
                    };
                    {
                        let mut g = g.lock().unwrap();
                        g.push(Received {
                            id: h("webhook-id"),
                            timestamp: h("webhook-timestamp"),
                            signature: h("webhook-signature"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        tx.send_replace(g.len());
                    }
                    tokio::time::sleep(reply.delay).await;
                    if reply.redirect {
                        return HttpResponse::Found()
                            .insert_header(("location", "http://169.254.169.254/latest/meta-data"))
                            .finish();
                    }
                    HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(reply.status).unwrap(),
                    )
                    .finish()
                }
            }))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            got,
            count,
            script,
            _server: handle,
        }
    }

    /// Waits (on the receiver's own counter) until `n` requests came.
    pub async fn wait_for(&mut self, n: usize) -> Vec<Received> {
        tokio::time::timeout(Duration::from_secs(15), self.count.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{n} deliveries within 15 s; got {:?}",
                    self.got.lock().unwrap().len()
                )
            })
            .unwrap();
        self.got.lock().unwrap().clone()
    }
}

pub const OK: Reply = Reply {
    status: 200,
    delay: Duration::ZERO,
    redirect: false,
};
