//! Extraction of every supported format from real fixture files, and clean
//! failures on corrupt or encrypted ones.

use docent_ingest::{ExtractError, Extracted, Limits, SourceKind, detect, extract};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn run(name: &str) -> Result<Extracted, ExtractError> {
    let bytes = fixture(name);
    let kind = detect(&bytes, Some(name)).unwrap_or_else(|| panic!("{name} not detected"));
    extract(kind, &bytes, &Limits::default())
}

#[test]
fn html_keeps_main_content_and_headings() {
    let doc = run("page.html").unwrap();
    assert_eq!(doc.title.as_deref(), Some("Docent Pricing & Plans"));
    let text = doc.text();
    for noise in [
        "NOISE",
        "trackingId",
        "font-family",
        "Email",
        "Related",
        "enable JavaScript",
    ] {
        assert!(!text.contains(noise), "{noise} leaked into {text}");
    }
    assert!(
        text.contains("Docent has three plans. Every plan includes unlimited bots."),
        "{text}"
    );
    assert!(text.contains("One workspace\nCommunity support"), "{text}");
    let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
    assert_eq!(
        headings,
        [
            Some("Pricing"),
            Some("Free"),
            Some("Team"),
            Some("Billing"),
            Some("Questions")
        ]
    );
    let billing = &doc.sections[3];
    assert_eq!(
        billing.text,
        "Invoices are sent on the first day of the month."
    );
}

#[test]
fn html_title_falls_back_to_h1() {
    let html = b"<html><body><h1>Only  heading</h1><p>Body text.</p></body></html>";
    let doc = extract(SourceKind::Html, html, &Limits::default()).unwrap();
    assert_eq!(doc.title.as_deref(), Some("Only heading"));
}

/// Chrome built from `<div>`s (the PostgreSQL manual's "Prev | Up | Next"
/// bars, menus, breadcrumbs) is dropped like `<nav>` is; content whose class
/// merely contains such a word inside another word stays.
#[test]
fn html_chrome_named_by_class_or_role_is_dropped() {
    let html = br#"<html><head><title>CREATE INDEX</title></head><body>
        <div class="navheader"><table><tr><td>Prev</td><td>Up</td><td>Next</td></tr></table></div>
        <div id="breadcrumbs">Docs / SQL</div>
        <div role="navigation">Home | Docs</div>
        <div class="site-menu">Products Pricing</div>
        <div class="refentry"><h1>CREATE INDEX</h1>
          <p>CREATE INDEX constructs an index on the specified column.</p>
          <div class="headline-note"><p>Indexes speed up reads.</p></div></div>
        <div class="navfooter">Prev | Up | Next</div>
        <div class="footer-links">Imprint</div>
        </body></html>"#;
    let doc = extract(SourceKind::Html, html, &Limits::default()).unwrap();
    let text = doc.text();
    for chrome in ["Prev", "Docs / SQL", "Home", "Products", "Imprint"] {
        assert!(!text.contains(chrome), "{chrome} leaked into {text}");
    }
    assert!(text.contains("CREATE INDEX constructs an index"), "{text}");
    assert!(text.contains("Indexes speed up reads."), "{text}");
}

#[test]
fn markdown_sections_follow_headings() {
    let doc = run("guide.md").unwrap();
    assert_eq!(doc.title.as_deref(), Some("Docent Guide"));
    let headings: Vec<_> = doc
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    assert_eq!(
        headings,
        [
            "Docent Guide",
            "Install",
            "Linux",
            "Windows",
            "Configure",
            "Troubleshooting"
        ]
    );
    let linux = doc
        .sections
        .iter()
        .find(|s| s.heading.as_deref() == Some("Linux"))
        .unwrap();
    assert!(
        linux.text.contains("tar xf docent.tar.gz\n./docent serve"),
        "{}",
        linux.text
    );
    let install = doc
        .sections
        .iter()
        .find(|s| s.heading.as_deref() == Some("Install"))
        .unwrap();
    assert_eq!(install.text, "Download the binary from the releases page.");
    assert!(!doc.text().contains("**") && !doc.text().contains("]("));
}

#[test]
fn plain_text_keeps_lines() {
    let doc = run("notes.txt").unwrap();
    assert_eq!(doc.sections.len(), 1);
    assert_eq!(
        doc.sections[0].text,
        "Docent release notes\n\nVersion 1.2 adds PDF page numbers.\nVersion 1.3 adds CSV support.\n\nThanks to all contributors."
    );
}

#[test]
fn csv_rows_carry_their_headers() {
    let doc = run("people.csv").unwrap();
    let lines: Vec<&str> = doc.sections[0].text.lines().collect();
    assert_eq!(
        lines,
        [
            "name: Ada Lovelace; city: London; role: Mathematician, writer",
            "name: Grace Hopper; city: New York; role: Rear admiral",
            "name: Alan Turing; city: Wilmslow",
            "name: Linus Torvalds; city: Portland; role: Engineer; column 4: extra-field",
        ]
    );
}

#[test]
fn json_becomes_paths_and_values() {
    let doc = run("catalog.json").unwrap();
    let text = &doc.sections[0].text;
    for line in [
        "store: Docent Books",
        "open: true",
        "rating: 4.5",
        "owner: null",
        "books[0].title: Rust in Action",
        "books[0].tags[1]: systems",
        "books[1].tags: []",
        "books[1].author.name: Luca Palmieri",
        "address.zip: 10115",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
}

#[test]
fn pdf_pages_are_numbered() {
    let doc = run("two_pages.pdf").unwrap();
    let pages: Vec<_> = doc.sections.iter().map(|s| s.page).collect();
    assert_eq!(pages, [Some(1), Some(2)]);
    assert!(!doc.sections[0].text.is_empty() && !doc.sections[1].text.is_empty());
    assert_ne!(doc.sections[0].text, doc.sections[1].text);
}

#[test]
fn pdf_with_only_an_owner_password_is_read() {
    let doc = run("owner_only.pdf").unwrap();
    assert!(!doc.text().trim().is_empty());
}

#[test]
fn encrypted_pdf_fails_cleanly() {
    let err = run("encrypted.pdf").unwrap_err();
    assert_eq!(err, ExtractError::Encrypted, "{err}");
}

#[test]
fn truncated_pdf_fails_cleanly() {
    let err = run("truncated.pdf").unwrap_err();
    assert!(
        matches!(err, ExtractError::Corrupt("pdf", _) | ExtractError::Empty),
        "{err:?}"
    );
}

#[test]
fn garbage_never_panics() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for kind in [SourceKind::Pdf, SourceKind::Docx] {
        let mut bytes = match kind {
            SourceKind::Pdf => b"%PDF-1.4\n".to_vec(),
            _ => b"PK\x03\x04word/document.xml".to_vec(),
        };
        bytes.extend_from_slice(&junk);
        assert!(extract(kind, &bytes, &Limits::default()).is_err());
    }
}

#[test]
fn docx_headings_and_text() {
    let doc = run("headings.docx").unwrap();
    assert!(doc.sections.iter().any(|s| s.heading.is_some()), "{doc:?}");
    assert!(!doc.text().trim().is_empty());
    assert!(doc.title.is_some());
}

#[test]
fn a_zip_that_is_not_docx_is_refused() {
    assert_eq!(
        detect(&fixture("not_docx.zip"), Some("not_docx.docx")),
        None
    );
}

#[test]
fn output_limit_is_enforced() {
    let text = "word ".repeat(10_000);
    let err = extract(
        SourceKind::Text,
        text.as_bytes(),
        &Limits {
            max_text_bytes: 1000,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, ExtractError::TooLarge(1000));
}

#[test]
fn empty_sources_fail_cleanly() {
    assert_eq!(
        extract(
            SourceKind::Html,
            b"<html><nav>menu</nav></html>",
            &Limits::default()
        ),
        Err(ExtractError::Empty)
    );
    assert_eq!(
        extract(SourceKind::Text, b"  \n\n ", &Limits::default()),
        Err(ExtractError::Empty)
    );
}
