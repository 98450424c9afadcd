//! Misbehaves: `list` never returns.
use p8sync_test_common::{info, test_provider};

test_provider!(
    Spin,
    info = info("test_spin_forever", &[]),
    list = |_req| {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
);
