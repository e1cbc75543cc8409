//! The WebSocket frame layer through the `/ws/echo` endpoint, with a real WebSocket client:
//! whole and fragmented messages, and the close codes for oversized messages (1009), invalid
//! UTF-8 (1007) and protocol errors (1002).

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

use crate::helpers::{Backend, TestApp, assert_error, spawn_app, spawn_app_with};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn echo_app(max: &str) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        &[
            ("LYCEUM_WS_ECHO", "1"),
            ("LYCEUM_WS_MAX_MESSAGE_BYTES", max),
        ],
    )
    .await
}

async fn connect(app: &TestApp) -> Socket {
    let url = app.address.replace("http://", "ws://") + "/ws/echo";
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket upgrade")
        .0
}

/// The close code the server ends the connection with.
async fn close_code(ws: &mut Socket) -> u16 {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => continue,
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    }
}

fn raw(payload: &'static [u8], opcode: OpCode, fin: bool) -> Message {
    Message::Frame(Frame::message(payload.to_vec(), opcode, fin))
}

#[actix_web::test]
async fn whole_and_fragmented_messages_are_echoed() {
    let app = echo_app("1024").await;
    let mut ws = connect(&app).await;
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("hello".into())
    );
    ws.send(Message::Binary(vec![0u8, 1, 2].into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Binary(vec![0u8, 1, 2].into())
    );
    // "café" split inside the two-byte "é", with a ping between the fragments.
    ws.send(raw(b"caf\xc3", OpCode::Data(Data::Text), false))
        .await
        .unwrap();
    ws.send(Message::Ping(vec![7u8].into())).await.unwrap();
    ws.send(raw(b"\xa9", OpCode::Data(Data::Continue), true))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Pong(vec![7u8].into())
    );
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("café".into())
    );
    ws.send(Message::Close(None)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 1000);
}

#[actix_web::test]
async fn oversized_messages_close_with_1009() {
    let app = echo_app("1024").await;
    let mut ws = connect(&app).await;
    ws.send(Message::Text("x".repeat(1025).into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1009);
    // Fragments count together.
    let mut ws = connect(&app).await;
    ws.send(Message::Frame(Frame::message(
        vec![b'a'; 600],
        OpCode::Data(Data::Text),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(
        vec![b'a'; 600],
        OpCode::Data(Data::Continue),
        true,
    )))
    .await
    .unwrap();
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[actix_web::test]
async fn invalid_utf8_closes_with_1007() {
    let app = echo_app("1024").await;
    let mut ws = connect(&app).await;
    ws.send(raw(b"\xff\xfe", OpCode::Data(Data::Text), true))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1007);
    let mut ws = connect(&app).await;
    ws.send(raw(b"ok", OpCode::Data(Data::Text), false))
        .await
        .unwrap();
    ws.send(raw(b"\xc3", OpCode::Data(Data::Continue), true))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1007);
}

#[actix_web::test]
async fn protocol_errors_close_with_1002() {
    let app = echo_app("1024").await;
    // A continuation with nothing to continue.
    let mut ws = connect(&app).await;
    ws.send(raw(b"x", OpCode::Data(Data::Continue), true))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1002);
    // A close code no endpoint may send.
    let mut ws = connect(&app).await;
    let header = FrameHeader {
        opcode: OpCode::Control(Control::Close),
        ..FrameHeader::default()
    };
    let close_1005 = Frame::from_payload(header, vec![0x03, 0xed].into());
    ws.send(Message::Frame(close_1005)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 1002);
}

#[actix_web::test]
async fn the_echo_endpoint_is_off_unless_asked_for() {
    let app = spawn_app(Backend::Sqlite).await;
    assert_error(app.get("/ws/echo", None).await, 404, "not_found").await;
}
