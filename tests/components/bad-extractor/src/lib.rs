//! An extractor that misbehaves as its input's format says, for the host's sandbox tests:
//! `panic` traps, `spin` never returns, `alloc` grows without end, `flood` ignores the host's
//! "stop" and emits text forever, `wrongkind` emits PCM although it declares text, `ok` reads
//! the file and emits it (the host goes on after the others).

use p8sync_extractor_sdk::{
    Extract, ExtractError, Info, Input, OutputKind, Request, Sink, Summary, log,
};

struct Bad;

impl Extract for Bad {
    fn info() -> Info {
        Info {
            id: "bad".into(),
            name: "Misbehaving extractor (tests)".into(),
            version: "0.1.0".into(),
            output: OutputKind::Text,
            formats: ["panic", "spin", "alloc", "flood", "wrongkind", "ok"]
                .map(String::from)
                .to_vec(),
            mime_types: vec![],
            memory_mib: 32,
        }
    }

    fn extract(
        mut input: Input,
        request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError> {
        log::stage("the misbehaviour");
        match request.format.as_str() {
            "panic" => panic!("this extractor panics on purpose"),
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                log::stage("an ever-growing buffer");
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "flood" => {
                let line = "flood ".repeat(10_000);
                for _ in 0..100_000 {
                    // Ignores the host's "stop".
                    sink.text(&line);
                }
                Ok(Summary::default())
            }
            "wrongkind" => {
                sink.pcm(&[1, 2, 3]);
                Ok(Summary::default())
            }
            _ => {
                let bytes = input
                    .read_all()
                    .map_err(|e| ExtractError::not_ingestible(e.to_string()))?;
                sink.text(&String::from_utf8_lossy(&bytes));
                Ok(Summary::default())
            }
        }
    }
}

p8sync_extractor_sdk::export!(Bad);
