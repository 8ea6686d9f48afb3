//! Outgoing mail: a port and its two adapters.
//!
//! [`FileMailer`] (the default) writes each message as an `.eml` file under the
//! data directory, so a person running the shop locally can open the mail in
//! any mail client. [`SmtpMailer`] delivers through an SMTP server when one is
//! configured.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("mail delivery failed: {0}")]
    Delivery(String),
}

/// Sends mail. Blocking: call it from blocking code.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Mailer: Send + Sync {
    fn send(&self, message: &MailMessage) -> Result<(), MailError>;
}

fn build_message(from: &str, message: &MailMessage) -> Result<lettre::Message, MailError> {
    let from = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
    let to = message.to.parse().map_err(|_| MailError::Address(message.to.clone()))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(message.text.clone())
        .map_err(|error| MailError::Delivery(error.to_string()))
}

/// Writes messages to `<dir>/<time>-<id>.eml`.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self { dir: dir.into(), from: from.into() }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Mailer for FileMailer {
    fn send(&self, message: &MailMessage) -> Result<(), MailError> {
        let email = build_message(&self.from, message)?;
        std::fs::create_dir_all(&self.dir).map_err(|error| MailError::Delivery(error.to_string()))?;
        let name = format!("{}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"), uuid::Uuid::now_v7().simple());
        let path = self.dir.join(name);
        // Write then rename, so a reader never sees half a message.
        let partial = path.with_extension("eml.partial");
        std::fs::write(&partial, email.formatted()).map_err(|error| MailError::Delivery(error.to_string()))?;
        std::fs::rename(&partial, &path).map_err(|error| MailError::Delivery(error.to_string()))?;
        tracing::info!(mail.file = %path.display(), "mail written");
        Ok(())
    }
}

/// Delivers through SMTP, configured by a URL such as
/// `smtps://user:password@smtp.example.com` or `smtp://localhost:25`
/// (lettre's URL format; `?tls=required` for STARTTLS).
pub struct SmtpMailer {
    transport: lettre::SmtpTransport,
    from: String,
}

impl SmtpMailer {
    pub fn from_url(url: &str, from: impl Into<String>) -> Result<Self, MailError> {
        let transport = lettre::SmtpTransport::from_url(url)
            .map_err(|error| MailError::Delivery(format!("invalid SMTP URL: {error}")))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self { transport, from: from.into() })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, message: &MailMessage) -> Result<(), MailError> {
        use lettre::Transport;
        let email = build_message(&self.from, message)?;
        self.transport.send(&email).map(|_| ()).map_err(|error| MailError::Delivery(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    fn message() -> MailMessage {
        MailMessage {
            to: "ana@example.com".into(),
            subject: "Verify your email".into(),
            text: "Your code: 1234".into(),
        }
    }

    #[test]
    fn file_mailer_writes_a_readable_eml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mailer = FileMailer::new(dir.path(), "Tienda <no-reply@tienda.localhost>");
        mailer.send(&message()).expect("sent");
        let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).expect("read");
        assert!(text.contains("To: ana@example.com"));
        assert!(text.contains("Subject: Verify your email"));
        assert!(text.contains("Your code: 1234"));
    }

    #[test]
    fn rejects_an_invalid_recipient() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mailer = FileMailer::new(dir.path(), "no-reply@tienda.localhost");
        let result = mailer.send(&MailMessage { to: "not an address".into(), ..message() });
        assert!(matches!(result, Err(MailError::Address(_))));
    }

    /// A minimal SMTP server that accepts one message, so the real lettre
    /// client is exercised end to end.
    fn one_shot_smtp_server() -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            let mut transcript = String::new();
            writer.write_all(b"220 test ESMTP\r\n").expect("greet");
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                transcript.push_str(&line);
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        writer.write_all(b"250 queued\r\n").expect("queued");
                    }
                    continue;
                }
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    b"250 test\r\n"
                } else if upper.starts_with("DATA") {
                    in_data = true;
                    b"354 go ahead\r\n"
                } else if upper.starts_with("QUIT") {
                    writer.write_all(b"221 bye\r\n").expect("bye");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                writer.write_all(reply).expect("reply");
            }
            transcript
        });
        (port, handle)
    }

    #[test]
    fn smtp_mailer_delivers_through_a_server() {
        let (port, server) = one_shot_smtp_server();
        let mailer =
            SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), "no-reply@tienda.localhost").expect("valid url");
        mailer.send(&message()).expect("delivered");
        drop(mailer);
        let transcript = server.join().expect("server");
        assert!(transcript.contains("RCPT TO:<ana@example.com>"), "{transcript}");
        assert!(transcript.contains("Your code: 1234"), "{transcript}");
    }
}
