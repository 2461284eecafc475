//! The OpenAI-compatible chat client against a server speaking the wire
//! format: streaming, usage, retries before the first token, timeouts,
//! cancellation.

use std::time::Duration;

use docent_core::llm::{ChatEvent, ChatModel, ChatRequest, ChatRole, ChatTurn, LlmError, Usage};
use docent_llm::chat::{ChatSettings, OpenAiChat};
use docent_testkit::{DEFAULT_REPLY, FakeOpenAi, Script};
use futures::StreamExt;

fn client(fake: &FakeOpenAi, first_token: Duration, idle: Duration) -> OpenAiChat {
    OpenAiChat::new(ChatSettings {
        base_url: fake.base_url(),
        api_key: Some("sk-test".into()),
        model: "fake-model".into(),
        first_token_timeout: first_token,
        idle_timeout: idle,
    })
    .unwrap()
}

fn question() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatTurn {
                role: ChatRole::System,
                content: "Answer from the context.".into(),
            },
            ChatTurn {
                role: ChatRole::User,
                content: "How long do refunds take?".into(),
            },
        ],
        temperature: Some(0.2),
        ..ChatRequest::default()
    }
}

/// Drains a stream: the concatenated deltas, then the final event or error.
async fn drain(model: &OpenAiChat, request: ChatRequest) -> (String, Result<ChatEvent, LlmError>) {
    let mut stream = model.stream(request).await.expect("stream starts");
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(ChatEvent::Delta(d)) => text.push_str(&d),
            other => return (text, other),
        }
    }
    panic!("the stream ended without Done or an error");
}

#[tokio::test]
async fn streams_deltas_then_usage() {
    let fake = FakeOpenAi::start().await;
    let model = client(&fake, Duration::from_secs(5), Duration::from_secs(5));
    let (text, end) = drain(&model, question()).await;
    assert_eq!(text, DEFAULT_REPLY);
    let Ok(ChatEvent::Done {
        usage,
        finish_reason,
    }) = end
    else {
        panic!("{end:?}")
    };
    assert_eq!(finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        usage,
        Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 7
        })
    );
    let sent = &fake.chat_requests().await[0];
    assert_eq!(sent["model"], "fake-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][1]["content"], "How long do refunds take?");
    assert!((sent["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    // A per-request model overrides the configured one.
    let (_, _) = drain(
        &model,
        ChatRequest {
            model: Some("bot-model".into()),
            ..question()
        },
    )
    .await;
    assert_eq!(fake.chat_requests().await[1]["model"], "bot-model");
}

#[tokio::test]
async fn server_errors_before_the_first_token_are_retried() {
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 2,
        fail_status: 500,
        ..Script::default()
    })
    .await;
    let model = client(&fake, Duration::from_secs(5), Duration::from_secs(5));
    let (text, end) = drain(&model, question()).await;
    assert_eq!(text, DEFAULT_REPLY);
    assert!(matches!(end, Ok(ChatEvent::Done { .. })));
    assert_eq!(fake.requests(), 3);

    fake.set_script(Script {
        fail_first: 100,
        fail_status: 429,
        ..Script::default()
    })
    .await;
    let err = model.stream(question()).await.err().unwrap();
    assert!(matches!(err, LlmError::Unavailable(_)), "{err}");
    assert_eq!(fake.requests(), 6, "three tries, then give up");

    fake.set_script(Script {
        fail_first: 1000,
        fail_status: 400,
        ..Script::default()
    })
    .await;
    let err = model.stream(question()).await.err().unwrap();
    assert!(matches!(err, LlmError::Failed(_)), "{err}");
    assert_eq!(fake.requests(), 7, "a 400 is not retried");
}

#[tokio::test]
async fn a_silent_server_times_out_cleanly() {
    let fake = FakeOpenAi::start_with(Script {
        delay: Duration::from_secs(30),
        ..Script::default()
    })
    .await;
    let model = client(&fake, Duration::from_millis(300), Duration::from_secs(5));
    let err = model.stream(question()).await.err().unwrap();
    assert!(matches!(err, LlmError::Timeout(_)), "{err}");

    // A stream that stalls midway ends with a timeout after the partial text.
    fake.set_script(Script {
        stall_after: Some(2),
        ..Script::default()
    })
    .await;
    let model = client(&fake, Duration::from_secs(5), Duration::from_millis(300));
    let (text, end) = drain(&model, question()).await;
    assert_eq!(text, "Refunds are ");
    assert!(matches!(end, Err(LlmError::Timeout(_))), "{end:?}");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_request() {
    let fake = FakeOpenAi::start_with(Script {
        chunk_delay: Duration::from_millis(100),
        ..Script::default()
    })
    .await;
    let model = client(&fake, Duration::from_secs(5), Duration::from_secs(5));
    let mut stream = model.stream(question()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(ChatEvent::Delta(_)))));
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fake.abandoned_streams() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never saw the client go"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
