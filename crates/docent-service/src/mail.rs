//! Mail over SMTP (lettre), and the messages the email flows send: plain
//! text and HTML, each with one link built from `DOCENT_PUBLIC_URL`.

use async_trait::async_trait;
use docent_core::mail::{Mail, MailError, Mailer};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Sends through the SMTP server of `DOCENT_SMTP_URL`.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: `smtp://user:pass@host:port` or `smtps://…`; `from`: the
    /// sender's mailbox.
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError(format!("DOCENT_SMTP_URL: {e}")))?
            .build();
        let from = from
            .parse()
            .map_err(|e| MailError(format!("DOCENT_MAIL_FROM: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| MailError(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError(e.to_string()))
    }
}

/// Text safe inside HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A message with one call to action: `lines` of text, then the link.
pub fn with_link(to: &str, subject: &str, lines: &[&str], action: &str, link: &str) -> Mail {
    let mut text = lines.join("\n\n");
    text.push_str(&format!("\n\n{action}: {link}\n"));
    let paragraphs: String = lines
        .iter()
        .map(|l| format!("<p>{}</p>", escape(l)))
        .collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1f2937\">{paragraphs}\
         <p><a href=\"{href}\">{action}</a></p><p style=\"color:#4b5563\">{href}</p></body></html>",
        href = escape(link),
        action = escape(action),
    );
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        html,
    }
}
