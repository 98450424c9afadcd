//! The components the binary ships are built without debug sections (issue 16): each carried
//! megabytes of them, most of its size. Walks every module nested in each component.

use p8sync_e2e::*;

/// A LEB128 u32 at `*at`, moving past it.
fn leb(bytes: &[u8], at: &mut usize) -> usize {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
        assert!(shift < 35, "a LEB128 number longer than a u32");
    }
}

/// The names of the custom sections in a module or component, and in everything nested in it.
fn custom_sections(bytes: &[u8], out: &mut Vec<String>) {
    assert_eq!(&bytes[..4], b"\0asm", "not a wasm binary");
    let component = bytes[6] == 1; // the layer: 0 a core module, 1 a component
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = leb(bytes, &mut at);
        let body = &bytes[at..at + size];
        match id {
            0 => {
                let mut n = 0;
                let len = leb(body, &mut n);
                out.push(String::from_utf8_lossy(&body[n..n + len]).into_owned());
            }
            // A component's core modules (1) and nested components (4) are whole binaries.
            1 | 4 if component => custom_sections(body, out),
            _ => {}
        }
        at += size;
    }
}

#[test]
fn shipped_components_carry_no_debug_sections() {
    let root = workspace().join("target");
    let mut checked = 0;
    for kind in ["providers", "extractors"] {
        for entry in std::fs::read_dir(root.join(kind)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "wasm") {
                continue;
            }
            let mut names = Vec::new();
            custom_sections(&std::fs::read(&path).unwrap(), &mut names);
            // `target_features` is written into core modules only: found, the walk went inside.
            assert!(
                names.iter().any(|n| n == "target_features"),
                "{}: no nested module's sections found, so the walk is wrong: {names:?}",
                path.display()
            );
            let debug: Vec<&String> = names.iter().filter(|n| n.starts_with(".debug")).collect();
            assert!(debug.is_empty(), "{} carries {debug:?}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} components found; build them first"
    );
}
