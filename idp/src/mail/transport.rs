//! Where mail goes: an SMTP server (`SESAME_SMTP_URL`) or, without one,
//! the log, readable, so a zero-config run still shows its mail.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header::MessageId};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::MailSettings;
use crate::store::MailRecord;

/// Per message: connect, greet, send.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub enum Transport {
    /// Boxed: one per replica, and much larger than `Log`.
    Smtp(Box<Smtp>),
    Log,
}

#[derive(Clone)]
pub struct Smtp {
    server: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (5xx) or the mail cannot be built.
    #[error("{0}")]
    Permanent(String),
    /// Down, unreachable, timed out, 4xx: worth another attempt.
    #[error("{0}")]
    Transient(String),
}

impl Transport {
    /// Built once per replica from settings checked at start.
    pub fn from_settings(settings: &MailSettings) -> Result<Self, String> {
        let Some(url) = &settings.smtp_url else { return Ok(Self::Log) };
        let server = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| e.to_string())?
            .timeout(Some(TIMEOUT))
            .build();
        let from: Mailbox = settings.from.parse().map_err(|e: lettre::address::AddressError| e.to_string())?;
        let domain = from.email.domain().to_owned();
        Ok(Self::Smtp(Box::new(Smtp { server, from, domain })))
    }

    pub async fn send(&self, mail: &MailRecord) -> Result<(), SendError> {
        match self {
            Self::Log => {
                tracing::info!(
                    to = %mail.recipient,
                    subject = %mail.subject,
                    kind = %mail.kind,
                    text = %mail.text_body,
                    "mail (no SMTP server configured: SESAME_SMTP_URL)"
                );
                Ok(())
            }
            Self::Smtp(smtp) => {
                let Smtp { server, from, domain } = smtp.as_ref();
                let to: Mailbox =
                    mail.recipient.parse().map_err(|_| SendError::Permanent("recipient is not an address".into()))?;
                // The same Message-ID on every attempt: a receiver can drop repeats.
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .header(MessageId::from(format!("<{}@{domain}>", mail.mail_id)))
                    .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))
                    .map_err(|e| SendError::Permanent(e.to_string()))?;
                match server.send(message).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    Err(e) => Err(SendError::Transient(e.to_string())),
                }
            }
        }
    }
}
