//! PDF text by page, through `pdf-extract` (on lopdf). It can panic on
//! malformed files; [`super::extract`] catches that.

use super::{Builder, ExtractError, Extracted, Limits};

pub(super) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| {
        let message = e.to_string();
        if message.to_ascii_lowercase().contains("decrypt")
            || message.to_ascii_lowercase().contains("password")
        {
            ExtractError::Encrypted
        } else {
            ExtractError::Corrupt("pdf", message)
        }
    })?;
    let mut b = Builder::new(limits);
    for (i, page) in pages.iter().enumerate() {
        b.start_section(None, Some(i as u32 + 1));
        b.push_text(page)?;
    }
    b.finish(None)
}
