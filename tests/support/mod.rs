//! Black-box test support: start the real shop on a random port with a fresh
//! data directory (and a fresh PostgreSQL database when `TEST_DATABASE_URL`
//! is set), and talk to it over HTTP.

#![allow(dead_code)]

use kernel::clock::{Clock, ManualClock, SystemClock};
use kernel::testing::{ScratchPostgres, TEST_DATABASE_URL};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tienda::{Settings, Shop};
use users::passwords::HashingProfile;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base_url: String,
    pub shop: Arc<Shop>,
    pub data_dir: PathBuf,
    handle: actix_web::dev::ServerHandle,
    relays: Vec<kernel::events::RelayHandle>,
    _sweeper: tienda::wiring::Sweeper,
    _sagas: Option<orchestration::runner::RunnerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    agent: ureq::Agent,
    // Dropped last: the database outlives the server using it.
    _data: tempfile::TempDir,
    _postgres: Option<ScratchPostgres>,
}

/// A response, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON (status {}): {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Asserts the status and that an error is a problem document.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        if status >= 400 {
            assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
            let problem = self.json();
            assert_eq!(problem["status"], status, "{}", self.text);
            assert!(problem["code"].is_string() && problem["title"].is_string(), "{}", self.text);
        }
        self
    }

    #[track_caller]
    pub fn problem_code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    /// `(field, code)` pairs of a 422.
    pub fn field_errors(&self) -> Vec<(String, String)> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn spawn() -> Self {
        Self::spawn_with(Arc::new(SystemClock), |_| {})
    }

    pub fn spawn_with_clock(clock: Arc<ManualClock>) -> Self {
        Self::spawn_with(clock, |_| {})
    }

    pub fn spawn_with(clock: Arc<dyn Clock>, adjust: impl FnOnce(&mut Settings)) -> Self {
        let data = tempfile::tempdir().expect("temporary data directory");
        let mut settings = Settings {
            data_dir: data.path().to_path_buf(),
            workers: 2,
            shutdown_timeout_secs: 1,
            ..Settings::default()
        };
        settings.auth.password_hashing = HashingProfile::InsecureTestOnly;
        // Generous, so a slow CI machine still sees sagas finish within the request.
        settings.checkout.wait_ms = 30_000;
        settings.checkout.sandbox_slow_ms = 50;
        settings.database.acquire_timeout_ms = 10_000;
        let postgres = std::env::var(TEST_DATABASE_URL).ok().filter(|url| !url.is_empty()).map(|url| {
            let scratch = ScratchPostgres::create(&url);
            settings.database.url = Some(scratch.url().to_owned());
            settings.database.role_prefix = scratch.role_prefix().to_owned();
            scratch
        });
        adjust(&mut settings);
        let shop = Arc::new(Shop::assemble_with_clock(settings, clock).expect("assemble the shop"));
        shop.migrate().expect("migrate");

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
        let port = listener.local_addr().expect("address").port();
        let (sender, receiver) = std::sync::mpsc::channel();
        let relays = shop.start_relays();
        let sweeper = shop.start_sweeper(Duration::from_millis(200));
        let sagas = shop.start_saga_runner();
        let server_shop = shop.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = tienda::server::build(server_shop, listener).expect("build server");
                sender.send(server.handle()).expect("hand over the server handle");
                let _ = server.await;
            });
        });
        let handle = receiver.recv().expect("server started");
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir: data.path().to_path_buf(),
            shop,
            handle,
            relays,
            _sweeper: sweeper,
            _sagas: sagas,
            thread: Some(thread),
            agent,
            _data: data,
            _postgres: postgres,
        }
    }

    /// Charges the sandbox payment gateway has moved money for.
    pub fn payments_captured(&self) -> usize {
        self.shop.payments.captured().len()
    }

    /// Environment for running the `tienda` binary against this app's data.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("TIENDA_DATA_DIR".to_owned(), self.data_dir.display().to_string())];
        if let Some(postgres) = &self._postgres {
            env.push(("DATABASE_URL".to_owned(), postgres.url().to_owned()));
            env.push(("TIENDA_DATABASE__ROLE_PREFIX".to_owned(), postgres.role_prefix().to_owned()));
        }
        env
    }

    pub fn backend(&self) -> &'static str {
        if self._postgres.is_some() { "postgres" } else { "sqlite" }
    }

    /// Sends a request; `body` is JSON. Never fails on a status.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.agent.request(method, &format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let result = match body {
            Some(body) => request.send_json(body.clone()),
            None => request.call(),
        };
        reply(result)
    }

    /// Sends a raw body with a content type.
    pub fn call_raw(&self, method: &str, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
        let mut request =
            self.agent.request(method, &format!("{}{path}", self.base_url)).set("Content-Type", content_type);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        reply(request.send_bytes(body))
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call("POST", path, token, Some(&body))
    }

    pub fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call("PATCH", path, token, Some(&body))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("DELETE", path, token, None)
    }

    /// Signs up a customer; returns the account JSON.
    pub fn sign_up(&self, email: &str) -> Value {
        let reply = self.post(
            "/api/v1/users",
            None,
            json!({"email": email, "password": PASSWORD, "display_name": "Test Customer"}),
        );
        reply.expect(201);
        reply.json()
    }

    pub fn log_in_with(&self, email: &str, password: &str) -> Reply {
        self.post("/api/v1/sessions", None, json!({"email": email, "password": password}))
    }

    pub fn log_in(&self, email: &str) -> Tokens {
        let reply = self.log_in_with(email, PASSWORD);
        reply.expect(200);
        let body = reply.json();
        Tokens {
            access: body["access_token"].as_str().expect("access token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh token").to_owned(),
        }
    }

    /// Signs up and logs in.
    pub fn customer(&self, email: &str) -> Tokens {
        self.sign_up(email);
        self.log_in(email)
    }

    /// Creates an administrator directly through the users service (as
    /// `tienda admin create` does) and logs in over HTTP.
    pub fn admin(&self, email: &str) -> Tokens {
        use users::domain::{DisplayName, Email, NewPassword};
        self.shop
            .users
            .create_account(
                users::service::Registration {
                    email: Email::parse(email).expect("email"),
                    password: NewPassword::parse(PASSWORD, None).expect("password"),
                    display_name: DisplayName::parse("Admin").expect("name"),
                },
                &[kernel::auth::Role::Admin],
            )
            .expect("create admin");
        self.log_in(email)
    }

    /// Every mail written so far to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let dir = self.data_dir.join("mail");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| has_extension(p, "eml")).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter(|text| text.contains(&format!("To: {to}")))
            .collect()
    }

    /// Waits (briefly) for the `n`-th mail to `to` and returns its token.
    pub fn wait_for_token(&self, to: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= n {
                return token_in(&mails[n - 1]);
            }
            assert!(Instant::now() < deadline, "no mail #{n} to {to} arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
}

/// The token line of a mail: the one indented by four spaces.
pub fn token_in(mail: &str) -> String {
    mail.lines()
        .find_map(|line| line.strip_prefix("    ").map(str::trim).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| panic!("no token in mail:\n{mail}"))
        .to_owned()
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("transport error: {error}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| response.header(&name).map(|value| (name.clone(), value.to_owned())))
        .collect();
    let text = response.into_string().unwrap_or_default();
    Reply { status, headers, text }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        actix_web::rt::System::new().block_on(stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for relay in self.relays.drain(..) {
            relay.stop();
        }
    }
}

/// A unique email for one test.
pub fn unique_email(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::now_v7().simple())
}
