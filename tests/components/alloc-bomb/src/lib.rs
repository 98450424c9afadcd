//! Misbehaves: `list` allocates memory until something stops it.
use p8sync_test_common::{info, test_provider};

test_provider!(
    Bomb,
    info = info("test_alloc_bomb", &[]),
    list = |_req| {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 8 * 1024 * 1024]);
            std::hint::black_box(&hoard);
        }
    }
);
