//! The mail seam: what the product sends (verification, password reset,
//! invitation links), and to whom. SMTP in the server (lettre); nothing is
//! sent where no SMTP server is configured.

use async_trait::async_trait;

/// One message, in plain text and HTML.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the mail could not be sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
    /// False when mail goes nowhere (no SMTP server configured).
    fn delivers(&self) -> bool {
        true
    }
}

/// Where no SMTP server is configured: sends nothing, says so once per
/// message in the log (never the link, which is a credential).
pub struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        tracing::warn!(subject = %mail.subject, "no SMTP server is configured (DOCENT_SMTP_URL): the mail is not sent");
        Ok(())
    }

    fn delivers(&self) -> bool {
        false
    }
}
