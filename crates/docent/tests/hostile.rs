//! Hostile files against the real server: each is made here, uploaded (or
//! posted) to a running `docent serve`, and must end `failed` with a reason
//! (or `ready` with what was read safely) in one attempt, while the server
//! stays up with bounded memory. The parsers run in the extraction sandbox,
//! so a stack overflow or runaway allocation ends only a child process.

mod support;

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, call};

/// A PDF with correct cross-references from `objects` (1-based, in order).
fn pdf(objects: &[&str]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, content: &str) -> String {
    format!(
        "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
}

/// A page whose form XObject draws itself: unbounded recursion in a parser
/// that follows forms.
fn self_drawing_pdf() -> Vec<u8> {
    pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X1 4 0 R >> >> /Contents 5 0 R >>",
        &stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X1 4 0 R >> >>",
            "/X1 Do",
        ),
        &stream("", "/X1 Do"),
    ])
}

/// A page tree that contains itself.
fn cyclic_pdf() -> Vec<u8> {
    pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        &stream("", "BT /F1 12 Tf 72 712 Td (loop) Tj ET"),
    ])
}

fn text_pdf() -> Vec<u8> {
    pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        &stream(
            "",
            "BT /F1 12 Tf 72 712 Td (Refunds are granted within thirty days.) Tj ET",
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])
}

/// A DOCX whose `document.xml` inflates to `xml_bytes`.
fn docx(xml_bytes: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#).unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    let head = br#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#;
    zip.write_all(head).unwrap();
    let para = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>";
    let mut written = head.len();
    let block = para.repeat(4096);
    while written < xml_bytes {
        zip.write_all(&block).unwrap();
        written += block.len();
    }
    zip.write_all(b"</w:body></w:document>").unwrap();
    zip.finish().unwrap().into_inner()
}

async fn upload(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    bot: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let res = client
        .post(format!("{}/bots/{bot}/files", server.base))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_fail_cleanly_in_one_attempt_and_the_server_stays_up() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        data.path(),
        &[
            ("DOCENT_EMBEDDER", "hash"),
            ("DOCENT_EXTRACT_TIMEOUT_SECS", "20"),
            ("DOCENT_RATE_LIMIT_CREDENTIAL_PER_MINUTE", "100000"),
        ],
    );
    let client = reqwest::Client::new();
    let (token, bot) = support::tenant_with_bot(&client, &server).await;

    let good_pdf = text_pdf();
    let big_docx = docx(40 << 20);
    let deep_html = format!(
        "<html><body>{}deep{}</body></html>",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("self-drawing.pdf", self_drawing_pdf()),
        ("cyclic.pdf", cyclic_pdf()),
        ("truncated.pdf", good_pdf[..good_pdf.len() * 3 / 5].to_vec()),
        (
            "garbage.pdf",
            [
                b"%PDF-1.7\n".as_slice(),
                &[0xde, 0xad, 0xbe, 0xef].repeat(1000),
            ]
            .concat(),
        ),
        ("bomb.docx", big_docx.clone()),
        ("truncated.docx", big_docx[..big_docx.len() / 2].to_vec()),
        ("deep.html", deep_html.clone().into_bytes()),
        (
            "deep.md",
            format!("{}quote", "> ".repeat(50_000)).into_bytes(),
        ),
        (
            "deep.json",
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        ),
        ("broken.json", b"{\"a\": [1, 2, ".to_vec()),
        ("broken.csv", b"a,b\n\"unclosed,1\n2,3\n".to_vec()),
        ("good.pdf", good_pdf.clone()),
        ("truncated.html", b"<html><head><title>Cut".to_vec()),
        ("truncated.md", b"# Title\n\n```rust\nfn main() {".to_vec()),
        ("bad-utf8.txt", b"caf\xe9 \xff\xfe".to_vec()),
        ("nul.md", b"# a\0b".to_vec()),
        ("plain.zip", {
            let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            z.start_file("a.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(&[0u8; 1 << 20]).unwrap();
            z.finish().unwrap().into_inner()
        }),
        (
            "one-line.csv",
            format!("a,b\n{}", "x,".repeat(500_000)).into_bytes(),
        ),
    ];
    let mut jobs = Vec::new();
    for (name, bytes) in files {
        let (status, body) = upload(&client, &server, &token, &bot, name, bytes).await;
        if status == 415 {
            // Refused at the door with a clear answer: also fine.
            assert_eq!(
                body["error"]["code"], "unsupported_media_type",
                "{name}: {body}"
            );
            continue;
        }
        assert_eq!(status, 202, "{name}: {body}");
        jobs.push((
            name.to_string(),
            body["job_id"].as_str().unwrap().to_string(),
            body["document"]["id"].as_str().unwrap().to_string(),
        ));
    }
    // The same deep HTML posted as text.
    let posted = call(
        &client,
        reqwest::Method::POST,
        format!("{}/docs", server.base),
        Some(&token),
        Some(json!({"bot_id": bot, "title": "Deep", "text": deep_html})),
    )
    .await;
    jobs.push((
        "posted deep html".into(),
        posted["job_id"].as_str().unwrap().to_string(),
        posted["document"]["id"].as_str().unwrap().to_string(),
    ));

    let mut outcomes = Vec::new();
    for (name, job_id, doc_id) in &jobs {
        let job =
            support::finished_job(&client, &server, &token, job_id, Duration::from_secs(120)).await;
        assert_eq!(job["attempts"], 1, "{name}: one attempt only: {job}");
        let doc = support::document(&client, &server, &token, doc_id).await;
        let status = doc["document"]["status"].as_str().unwrap().to_string();
        match status.as_str() {
            "failed" => {
                let error = doc["document"]["error"].as_str().unwrap_or_default();
                assert!(!error.is_empty(), "{name}: a failed document says why");
                assert!(
                    !error.contains("/tmp") && !error.contains("panicked"),
                    "{name}: {error}"
                );
            }
            "ready" => {}
            other => panic!("{name}: ended {other}: {doc}"),
        }
        outcomes.push((name.clone(), status, doc["document"]["error"].clone()));
        assert!(server.alive(), "the server survived {name}");
    }
    for (name, status, error) in &outcomes {
        eprintln!("{name:<18} {status:<7} {error}");
    }
    let by_name = |n: &str| outcomes.iter().find(|o| o.0 == n).unwrap().clone();
    let (_, status, error) = by_name("self-drawing.pdf");
    assert_eq!(status, "failed");
    assert!(
        error
            .as_str()
            .unwrap()
            .starts_with("the file could not be read safely"),
        "{error}"
    );
    let (_, status, error) = by_name("bomb.docx");
    assert_eq!(status, "failed");
    assert!(
        error.as_str().unwrap().contains("expands to more than"),
        "{error}"
    );
    let (_, status, error) = by_name("deep.html");
    assert_eq!(status, "failed");
    assert!(error.as_str().unwrap().contains("nest"), "{error}");
    assert_eq!(by_name("good.pdf").1, "ready", "a sound file still reads");

    // The server itself never parsed a byte: its peak memory stays small.
    let peak_mib = server.peak_rss_kib() / 1024;
    assert!(peak_mib < 400, "server peak RSS {peak_mib} MiB");
    let health: Value = client
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    server.kill();
}

/// A crawled site with a hostile page: the crawl finishes, the hostile page's
/// document fails with its reason, the sound page is indexed, and the server
/// stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_crawled_page_fails_alone() {
    use axum::response::Html;
    let deep = format!(
        "<html><body>{}deep{}</body></html>",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let site = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async {
                Html(r#"<html><head><title>Home</title></head><body><main><p>Welcome to the shop.</p>
                <a href="/deep">deep</a> <a href="/ok">ok</a></main></body></html>"#)
            }),
        )
        .route("/deep", axum::routing::get(move || async move { Html(deep) }))
        .route(
            "/ok",
            axum::routing::get(|| async {
                Html("<html><head><title>Refunds</title></head><body><main><p>Refunds take thirty days.</p></main></body></html>")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });

    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        data.path(),
        &[
            ("DOCENT_EMBEDDER", "hash"),
            ("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true"),
            ("DOCENT_CRAWL_DELAY_MS", "0"),
        ],
    );
    let client = reqwest::Client::new();
    let (token, bot) = support::tenant_with_bot(&client, &server).await;
    let accepted = call(
        &client,
        reqwest::Method::POST,
        format!("{}/bots/{bot}/crawl", server.base),
        Some(&token),
        Some(json!({"url": url, "max_pages": 10})),
    )
    .await;
    let job_id = accepted["job_id"].as_str().unwrap();
    let job =
        support::finished_job(&client, &server, &token, job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let docs = loop {
        let list = call(
            &client,
            reqwest::Method::GET,
            format!("{}/docs?bot_id={bot}", server.base),
            Some(&token),
            None,
        )
        .await;
        let docs = list["documents"].as_array().unwrap().clone();
        if docs.len() == 3
            && docs
                .iter()
                .all(|d| d["status"] == "ready" || d["status"] == "failed")
        {
            break docs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "documents did not settle: {list}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let status_of = |suffix: &str| {
        docs.iter()
            .find(|d| {
                d["source_url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(suffix))
            })
            .map(|d| {
                (
                    d["status"].as_str().unwrap().to_string(),
                    d["error"].clone(),
                )
            })
            .unwrap()
    };
    let (status, error) = status_of("/deep");
    assert_eq!(status, "failed");
    assert!(error.as_str().unwrap().contains("nest"), "{error}");
    assert_eq!(status_of("/ok").0, "ready");
    assert!(server.alive());
    server.kill();
}
