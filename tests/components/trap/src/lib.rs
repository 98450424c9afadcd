//! Misbehaves: panics inside `list`, which traps the instance.
use p8sync_test_common::{info, test_provider};

test_provider!(
    Trap,
    info = info("test_trap", &[]),
    list = |_req| {
        let items: Vec<u32> = Vec::new();
        let index = std::hint::black_box(7);
        panic!(
            "test component gave up: index {index} out of {} items",
            items.len()
        );
    }
);
